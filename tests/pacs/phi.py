"""PHI planted in names, IDs, dates, descriptions, comments, private tags and sequences, and the strings to
look for afterwards (the de-identification tests)."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

SALT = "site-secret-1"
PHI = {"PatientName": "Sentinelname^Phisecret", "PatientID": "PHI-ID-84731", "OtherPatientIDs": "OTHERPHI-5521",
       "PatientBirthDate": "19230417", "StudyDate": "20190311", "SeriesDate": "20190311",
       "InstitutionName": "Phisentinel Memorial", "ReferringPhysicianName": "Drphi^Sentinelle",
       "AccessionNumber": "ACC93751PHI", "StudyDescription": "Brainphi study of Sentinelname",
       "SeriesDescription": "T1 Seriesphi", "ImageComments": "Commentphi: patient anxious"}
PRIVATE = "Privatephi-XK77"
NESTED = "Nestedphi^Sequencename"
NEEDLES = [b"Sentinelname", b"Phisecret", b"PHI-ID-84731", b"OTHERPHI", b"19230417", b"20190311", b"Phisentinel",
           b"Drphi", b"Sentinelle", b"ACC93751", b"Brainphi", b"Seriesphi", b"Commentphi", PRIVATE.encode(),
           b"Nestedphi", b"Sequencename"]


def plant(ds: Dataset) -> None:
    for key, value in PHI.items():
        setattr(ds, key, value)
    ds.Modality = "MR"
    ds.FrameOfReferenceUID = "1.2.3.4.5.6.7"
    block = ds.private_block(0x0029, "PHI CREATOR", create=True)
    block.add_new(0x10, "LO", PRIVATE)
    ref = Dataset()
    ref.PatientName = NESTED
    ref.ReferencedSOPInstanceUID = generate_uid()
    ds.ReferencedPatientSequence = Sequence([ref])
    req = Dataset()
    req.RequestedProcedureDescription = NESTED
    req.ScheduledProcedureStepID = "PHI-ID-84731"
    ds.RequestAttributesSequence = Sequence([req])
    code = Dataset()  # a sequence the table keeps: its items are cleaned, not dropped
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "T-A0100", "SRT", "Brain"
    code.ReferencedSOPInstanceUID = "1.2.3.4.5.6.7"  # a UID in a kept sequence maps like any other
    ds.AnatomicRegionSequence = Sequence([code])
