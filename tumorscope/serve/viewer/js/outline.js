// The mask's outline for the overlay's outline mode. Hand-written because NiiVue draws overlays filled (its
// overlayOutlineWidth only adds a dark rim around the fill): a voxel of the mask is kept when one of its face
// neighbours is outside the mask. Neighbours along ``flatAxis`` (the axis normal to the plane on screen) are not
// looked at, so a 2-D view shows that slice's contour; with flatAxis -1 (several planes) the border is 3-D.
// Neighbours beyond the grid count as inside, so a one-slice mask keeps its in-plane contour.

/** Border voxels (1) of a binary mask ``img`` (x fastest, then y, then z) of size nx × ny × nz. */
export function maskBorder(img, nx, ny, nz, flatAxis = -1) {
  const out = new Uint8Array(img.length);
  const plane = nx * ny;
  const outside = (index) => img[index] === 0;
  const [useX, useY, useZ] = [0, 1, 2].map((axis) => axis !== flatAxis);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        const i = x + y * nx + z * plane;
        if (img[i] === 0) continue;
        const edge = (useX && ((x > 0 && outside(i - 1)) || (x < nx - 1 && outside(i + 1))))
          || (useY && ((y > 0 && outside(i - nx)) || (y < ny - 1 && outside(i + nx))))
          || (useZ && ((z > 0 && outside(i - plane)) || (z < nz - 1 && outside(i + plane))));
        if (edge) out[i] = 1;
      }
    }
  }
  return out;
}
