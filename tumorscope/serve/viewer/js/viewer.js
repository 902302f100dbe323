// The study's NiiVue canvas: the image, the AI mask overlay (fill or outline, opacity), the heatmap, a corrected
// mask, planes, window/level, slice stepping, and the correction tool on NiiVue's drawing layer.
import { MULTIPLANAR_TYPE, NVImage, Niivue, SHOW_RENDER, SLICE_TYPE } from "../vendor/niivue/niivue.js";
import { maskBorder } from "./outline.js";

export const PLANES = {
  axial: SLICE_TYPE.AXIAL, coronal: SLICE_TYPE.CORONAL, sagittal: SLICE_TYPE.SAGITTAL, multiplanar: SLICE_TYPE.MULTIPLANAR,
};
// opaque single-colour maps: 0 below cal_min is transparent, 1 is the full colour
const COLORMAPS = {
  ts_mask: { R: [0, 255], G: [0, 0], B: [0, 0], A: [0, 255], I: [0, 255] },
  ts_corrected: { R: [0, 0], G: [0, 220], B: [0, 90], A: [0, 255], I: [0, 255] },
};
const CROSSHAIR_WIDTH = 1;
const BRUSH = 1;
const ERASER = 0;

async function volume(buffer, name, options) {
  return NVImage.loadFromUrl({ url: name, name, buffer, ...options });
}

export class StudyViewer {
  constructor() {
    this.nv = new Niivue({
      backColor: [0, 0, 0, 1], crosshairColor: [0.2, 0.8, 1, 0.9], crosshairWidth: CROSSHAIR_WIDTH, isColorbar: false,
      dragAndDropEnabled: false, multiplanarShowRender: SHOW_RENDER.NEVER, multiplanarLayout: MULTIPLANAR_TYPE.GRID, show3Dcrosshair: false,
      isNearestInterpolation: true, loadingText: "loading", logLevel: "warn", penSize: 3, maxDrawUndoBitmaps: 32,
    });
    this.image = this.mask = this.heatmap = this.corrected = null;
    this.maskFill = this.maskBytes = null;
    this.state = { opacity: 0.5, outline: false, maskVisible: true, heatmapVisible: false, correctedVisible: true };
    this.correcting = false;
    this.undoDepth = 0;
    this.listeners = { change: [] };
  }

  /** Attach to ``canvas``; throws (with NiiVue's reason) when the browser has no WebGL2. */
  async attach(canvas) {
    await this.nv.attachToCanvas(canvas);
    for (const [name, cmap] of Object.entries(COLORMAPS)) this.nv.addColormap(name, cmap);
    this.nv.onIntensityChange = () => this.emit();
    this.nv.onLocationChange = (data) => { this.lastLocation = data; this.emit(); };
    this.nv.onDrawingChanged = (action) => { if (action === "draw") { this.undoDepth += 1; this.emit(); } };
  }

  onChange(listener) { this.listeners.change.push(listener); }
  emit() { for (const listener of this.listeners.change) listener(this); }

  get dims() { return this.image ? this.image.hdr.dims.slice(1, 4) : [0, 0, 0]; }
  get isSingleSlice() { return this.dims[2] <= 1; }

  /** The background image; a volume opens in all three planes, a stack of 2-D slices axially. */
  async loadImage(buffer, { isVolume }) {
    this.image = await volume(buffer, "image.nii.gz", { colormap: "gray" });
    this.nv.addVolume(this.image);
    this.setPlane(isVolume ? "multiplanar" : "axial");
  }

  async loadMask(buffer) {
    this.maskBytes = buffer.slice(0); // NiiVue may keep or transform the buffer it is given
    this.mask = await volume(buffer, "mask.nii.gz", { colormap: "ts_mask", cal_min: 0.5, cal_max: 1, opacity: this.state.opacity });
    this.maskFill = this.mask.img.slice();
    this.nv.addVolume(this.mask);
  }

  async loadHeatmap(buffer) {
    this.heatmap = await volume(buffer, "heatmap.nii.gz", { colormap: "warm", cal_min: 0.25, cal_max: 1, opacity: 0 });
    this.nv.addVolume(this.heatmap);
    if (this.mask) this.nv.moveVolumeUp(this.mask); // the mask stays above the heatmap
  }

  async showCorrected(buffer) {
    if (this.corrected) this.nv.removeVolume(this.corrected);
    this.corrected = await volume(buffer, "corrected.nii.gz", { colormap: "ts_corrected", cal_min: 0.5, cal_max: 1, opacity: 0.6 });
    this.nv.addVolume(this.corrected);
    this.state.correctedVisible = true;
    this.emit();
  }

  index(vol) { return this.nv.getVolumeIndexByID(vol.id); }

  /** Overlay opacities from the state: the mask (hidden while correcting, the drawing shows it), heatmap, correction. */
  applyOverlays() {
    const { opacity, maskVisible, heatmapVisible, correctedVisible } = this.state;
    const maskOpacity = this.state.outline ? Math.min(1, 2 * opacity) : opacity; // a one-voxel line needs more
    if (this.mask) this.nv.setOpacity(this.index(this.mask), maskVisible && !this.correcting ? maskOpacity : 0);
    if (this.heatmap) this.nv.setOpacity(this.index(this.heatmap), heatmapVisible ? Math.max(opacity, 0.35) : 0);
    if (this.corrected) this.nv.setOpacity(this.index(this.corrected), correctedVisible && !this.correcting ? opacity : 0);
    this.nv.setDrawOpacity(opacity);
    this.emit();
  }

  set(key, value) {
    this.state[key] = value;
    if (key === "outline") this.drawOutline();
    this.applyOverlays();
  }

  /** The mask filled, or its border within the plane on screen (in 3-D for the multiplanar view). */
  drawOutline() {
    if (!this.mask) return;
    const d = this.mask.hdr.dims;
    const ras = { sagittal: 0, coronal: 1, axial: 2 }[this.plane];
    const flat = ras === undefined ? -1 : Math.abs(this.mask.permRAS[ras]) - 1; // native axis normal to the plane
    this.mask.img = this.state.outline ? maskBorder(this.maskFill, d[1], d[2], d[3], flat) : this.maskFill.slice();
    this.nv.updateGLVolume();
  }

  toggle(key) { this.set(key, !this.state[key]); }

  setPlane(name) {
    this.plane = this.isSingleSlice ? "axial" : name;
    this.nv.setSliceType(PLANES[this.plane]);
    if (this.state.outline) this.drawOutline();
    this.emit();
  }

  /** Window (width) and level (centre) of the image's display range, and the image's full range. */
  windowLevel() {
    const v = this.image;
    return { window: v.cal_max - v.cal_min, level: (v.cal_max + v.cal_min) / 2, min: v.global_min, max: v.global_max };
  }

  setWindowLevel(window, level) {
    const width = Math.max(window, 1e-6);
    this.image.cal_min = level - width / 2;
    this.image.cal_max = level + width / 2;
    this.nv.updateGLVolume();
    this.emit();
  }

  resetWindowLevel() {
    this.setWindowLevel(this.image.robust_max - this.image.robust_min, (this.image.robust_max + this.image.robust_min) / 2);
  }

  /** One slice further (+1) or back (-1) along the current plane's normal (axial for the multiplanar view). */
  step(delta) {
    const axis = { coronal: [0, delta, 0], sagittal: [delta, 0, 0] }[this.plane] ?? [0, 0, delta];
    this.nv.moveCrosshairInVox(...axis);
  }

  /** The crosshair's voxel (RAS order, as NiiVue counts) and the grid size. */
  location() {
    const vox = this.nv.frac2vox(this.nv.scene.crosshairPos);
    return { vox: Array.from(vox), dims: this.image.dimsRAS.slice(1, 4) };
  }

  /** Move the crosshair to voxel [i, j, k] of the image's own grid (a lesion's centroid). */
  goToVoxel([i, j, k]) {
    const a = this.image.hdr.affine;
    const mm = [0, 1, 2].map((r) => a[r][0] * i + a[r][1] * j + a[r][2] * k + a[r][3]);
    this.nv.scene.crosshairPos = this.nv.mm2frac(mm);
    this.nv.createOnLocationChange();
    this.nv.updateGLVolume();
  }

  // --- correction: NiiVue's drawing layer, started from the AI mask; pen value 1 paints, 0 erases

  async startCorrection() {
    if (!this.mask) throw new Error("there is no AI mask to correct");
    const base = await volume(this.maskBytes.slice(0), "mask.nii.gz", {});
    if (!this.nv.loadDrawing(base)) throw new Error("the mask's grid differs from the image's");
    this.correcting = true;
    this.undoDepth = 0;
    this.nv.setCrosshairWidth(0); // the crosshair follows the pen and would hide the stroke
    this.nv.setDrawingEnabled(true);
    this.useTool("brush");
    this.applyOverlays();
  }

  useTool(tool) {
    this.tool = tool;
    this.nv.setPenValue(tool === "eraser" ? ERASER : BRUSH, false);
    this.emit();
  }

  setBrushSize(size) {
    this.nv.opts.penSize = size;
    this.emit();
  }

  undo() {
    if (this.undoDepth === 0) return; // NiiVue's undo ring would wrap round to the newest stroke
    this.nv.drawUndo();
    this.undoDepth -= 1;
    this.emit();
  }

  /** The drawing as an uncompressed NIfTI (.nii) in the image's voxel grid, nonzero = tumor. */
  async exportCorrection() {
    const bytes = await this.nv.saveImage({ filename: "", isSaveDrawing: true, volumeByIndex: 0 });
    if (!(bytes instanceof Uint8Array)) throw new Error("NiiVue returned no drawing");
    return bytes;
  }

  stopCorrection() {
    this.nv.setDrawingEnabled(false);
    this.nv.closeDrawing();
    this.nv.setCrosshairWidth(CROSSHAIR_WIDTH);
    this.correcting = false;
    this.undoDepth = 0;
    this.applyOverlays();
  }

  /** Canvas pixel (CSS px) of the centre of image voxel [i, j, k] in the current view, or null when not shown. */
  canvasPoint([i, j, k]) {
    const a = this.image.hdr.affine;
    const mm = [0, 1, 2].map((r) => a[r][0] * i + a[r][1] * j + a[r][2] * k + a[r][3]);
    const pos = this.nv.frac2canvasPos(this.nv.mm2frac(mm));
    const ratio = this.nv.uiData.dpr || window.devicePixelRatio || 1;
    return pos ? [pos[0] / ratio, pos[1] / ratio] : null;
  }
}
