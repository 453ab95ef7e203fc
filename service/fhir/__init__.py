"""FHIR access: an HTTP client for the EHR's FHIR server and record gathering
(prefetch first, then parallel queries for what is missing)."""
