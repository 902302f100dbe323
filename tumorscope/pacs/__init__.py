"""PACS in and out: DICOM conversion, de-identification, DICOM SEG/SR outputs and DICOMweb (issue 28)."""
