"""No PHI planted in a DICOM's header (or in the upload's file name) reaches the database, the server's log
or any response other than the files a user asked for: on SQLite and on PostgreSQL."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import generate_uid
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from tests.io.conftest import write_dicom_slice
from tests.serve.server import Server, wait_done
from tumorscope.serve.db import open_database
from tumorscope.serve.settings import database_url

PHI = {"PatientName": "Sentinelname^Phisecret", "PatientID": "PHI-ID-84731", "PatientBirthDate": "19230417",
       "InstitutionName": "Phisentinel Memorial", "AccessionNumber": "ACC93751PHI",
       "ReferringPhysicianName": "Drphi^Sentinelle", "OtherPatientIDs": "OTHERPHI-5521"}
UPLOAD_NAME = "Sentinelname_Phisecret_PHI-ID-84731.zip"
NEEDLES = [v.split("^")[0].encode() for v in PHI.values()] + [b"Phisecret", b"Sentinelle", b"Sentinelname_Phisecret"]


def phi_series_zip(tmp: Path) -> bytes:
    uid = generate_uid()
    buf = io.BytesIO()
    rng = np.random.default_rng(3)
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(4):
            path = write_dicom_slice(tmp / f"s{i}.dcm", rng.integers(0, 800, (48, 48)).astype(np.uint16),
                                     series_uid=uid, position=(0.0, 0.0, 2.0 * i), instance=i + 1)
            ds = pydicom.dcmread(path)
            for key, value in PHI.items():
                setattr(ds, key, value)
            ds.Modality = "MR"
            ds.save_as(path)
            z.write(path, f"IM{i:04d}")
    return buf.getvalue()


def _db_text(url: str) -> str:
    engine = open_database(url)
    out = []
    with Session(engine) as s:
        for table in inspect(engine).get_table_names():
            out += [str(tuple(row)) for row in s.execute(text(f'SELECT * FROM "{table}"'))]
    return "\n".join(out)


def test_planted_phi_appears_nowhere(service: Server, tokens: dict[str, str], tmp_path: Path) -> None:
    data = phi_series_zip(tmp_path)
    assert all(n in data for n in NEEDLES[:3])  # it is planted
    seen: list[bytes] = []
    with service.client(tokens["clinician"]) as c:
        r = c.post("/v1/predictions", files={"file": (UPLOAD_NAME, data)})
        seen.append(r.content)
        assert r.status_code == 202, r.text
        pid = r.json()["id"]
        body = wait_done(c, pid)
        assert body["status"] == "done", body
        seen.append(c.get(f"/v1/predictions/{pid}").content)
        seen.append(c.post(f"/v1/predictions/{pid}/review", json={"decision": "accept"}).content)
        seen += [c.get(p).content for p in ("/v1/models", "/v1/monitoring", "/metrics")]
        for name in body["files"]:  # the files themselves: masks, overlays and the summary
            seen.append(c.get(f"/v1/predictions/{pid}/files/{name}").content)
        bad = c.post("/v1/predictions", files={"file": (UPLOAD_NAME, data[: len(data) // 2])})  # a damaged zip
        assert bad.status_code == 400
        seen.append(bad.content)
    with service.client(tokens["admin"]) as a:
        seen.append(a.get("/v1/audit").content)
    seen.append(service.log.read_bytes())
    seen.append(_db_text(database_url(service.db, service.data_dir)).encode())
    leaks = [(n, i) for i, blob in enumerate(seen) for n in NEEDLES if n in blob]
    assert not leaks, leaks
