"""The published NHS payloads the simulator answers with, copied verbatim.

Sources: the PDS FHIR API sandbox examples and the NRL (NRLF) example pointers, the same files kept
in `tests/fixtures/` (a test checks they are still equal). They are templates: `sim.fhir` copies
them and changes only ids, numbers and, for extra synthetic people, names. Never mutate them.
"""

from typing import Any, Final

# PDS `GET Patient/9000000009`: the sandbox's normal, unrestricted person.
# Source: tests/fixtures/pds/Patient.json
PATIENT: Final[dict[str, Any]] = {
    "resourceType": "Patient",
    "id": "9000000009",
    "identifier": [
        {
            "system": "https://fhir.nhs.uk/Id/nhs-number",
            "value": "9000000009",
            "extension": [
                {
                    "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                    "valueCodeableConcept": {
                        "coding": [
                            {
                                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus",
                                "version": "1.0.0",
                                "code": "01",
                                "display": "Number present and verified",
                            }
                        ]
                    },
                }
            ],
        }
    ],
    "meta": {
        "versionId": "2",
        "security": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                "code": "U",
                "display": "unrestricted",
            }
        ],
    },
    "name": [
        {
            "id": "123",
            "use": "usual",
            "period": {"start": "2024-01-01", "end": "2025-12-31"},
            "given": ["Jane"],
            "family": "Smith",
            "prefix": ["Mrs"],
            "suffix": ["MBE"],
        }
    ],
    "gender": "female",
    "birthDate": "2010-10-22",
    "multipleBirthInteger": 1,
    "deceasedDateTime": "2010-10-22T00:00:00+00:00",
    "generalPractitioner": [
        {
            "id": "254406A3",
            "type": "Organization",
            "identifier": {
                "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                "value": "Y12345",
                "period": {"start": "2024-01-01", "end": "2025-12-31"},
            },
        }
    ],
    "managingOrganization": {
        "type": "Organization",
        "identifier": {
            "system": "https://fhir.nhs.uk/Id/ods-organization-code",
            "value": "Y12345",
            "period": {"start": "2024-01-01", "end": "2025-12-31"},
        },
    },
    "extension": [
        {
            "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NominatedPharmacy",
            "valueReference": {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "Y12345",
                }
            },
        },
        {
            "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-PreferredDispenserOrganization",
            "valueReference": {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "Y23456",
                }
            },
        },
        {
            "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-MedicalApplianceSupplier",
            "valueReference": {
                "identifier": {
                    "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                    "value": "Y34567",
                }
            },
        },
        {
            "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus",
            "extension": [
                {
                    "url": "deathNotificationStatus",
                    "valueCodeableConcept": {
                        "coding": [
                            {
                                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus",
                                "version": "1.0.0",
                                "code": "2",
                                "display": "Formal - death "
                                "notice received "
                                "from Registrar of "
                                "Deaths",
                            }
                        ]
                    },
                },
                {"url": "systemEffectiveDate", "valueDateTime": "2010-10-22T00:00:00+00:00"},
            ],
        },
        {
            "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication",
            "extension": [
                {
                    "url": "language",
                    "valueCodeableConcept": {
                        "coding": [
                            {
                                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-HumanLanguage",
                                "version": "1.0.0",
                                "code": "fr",
                                "display": "French",
                            }
                        ]
                    },
                },
                {"url": "interpreterRequired", "valueBoolean": True},
            ],
        },
        {
            "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-ContactPreference",
            "extension": [
                {
                    "url": "PreferredWrittenCommunicationFormat",
                    "valueCodeableConcept": {
                        "coding": [
                            {
                                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredWrittenCommunicationFormat",
                                "code": "12",
                                "display": "Braille",
                            }
                        ]
                    },
                },
                {
                    "url": "PreferredContactMethod",
                    "valueCodeableConcept": {
                        "coding": [
                            {
                                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-PreferredContactMethod",
                                "code": "1",
                                "display": "Letter",
                            }
                        ]
                    },
                },
                {"url": "PreferredContactTimes", "valueString": "Not after 7pm"},
            ],
        },
        {
            "url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
            "valueAddress": {
                "city": "Manchester",
                "district": "Greater Manchester",
                "country": "GBR",
            },
        },
        {
            "url": "https://fhir.nhs.uk/StructureDefinition/Extension-PDS-RemovalFromRegistration",
            "extension": [
                {
                    "url": "removalFromRegistrationCode",
                    "valueCodeableConcept": {
                        "coding": [
                            {
                                "system": "https://fhir.nhs.uk/CodeSystem/PDS-RemovalReasonExitCode",
                                "code": "SCT",
                                "display": "Transferred to Scotland",
                            }
                        ]
                    },
                },
                {
                    "url": "effectiveTime",
                    "valuePeriod": {
                        "start": "2020-01-01T00:00:00+00:00",
                        "end": "2021-12-31T00:00:00+00:00",
                    },
                },
            ],
        },
    ],
    "telecom": [
        {
            "id": "789",
            "period": {"start": "2024-01-01", "end": "2025-12-31"},
            "system": "phone",
            "value": "01632960587",
            "use": "home",
        },
        {
            "id": "790",
            "period": {"start": "2019-01-01", "end": "2022-12-31"},
            "system": "email",
            "value": "jane.smith@example.com",
            "use": "home",
        },
        {
            "id": "OC789",
            "period": {"start": "2024-01-01", "end": "2025-12-31"},
            "system": "other",
            "value": "01632960587",
            "use": "home",
            "extension": [
                {
                    "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-OtherContactSystem",
                    "valueCoding": {
                        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-OtherContactSystem",
                        "code": "textphone",
                        "display": "Minicom (Textphone)",
                    },
                }
            ],
        },
    ],
    "contact": [
        {
            "id": "C123",
            "period": {"start": "2024-01-01", "end": "2025-12-31"},
            "relationship": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                            "code": "C",
                            "display": "Emergency Contact",
                        }
                    ]
                }
            ],
            "telecom": [{"system": "phone", "value": "01632960587"}],
        }
    ],
    "address": [
        {
            "id": "456",
            "period": {"start": "2024-01-01", "end": "2025-12-31"},
            "use": "home",
            "line": ["1 Trevelyan Square", "Boar Lane", "City Centre", "Leeds", "West Yorkshire"],
            "postalCode": "LS1 6AE",
            "extension": [
                {
                    "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
                    "extension": [
                        {
                            "url": "type",
                            "valueCoding": {
                                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                                "code": "PAF",
                            },
                        },
                        {"url": "value", "valueString": "12345678"},
                    ],
                },
                {
                    "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
                    "extension": [
                        {
                            "url": "type",
                            "valueCoding": {
                                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                                "code": "UPRN",
                            },
                        },
                        {"url": "value", "valueString": "123456789012"},
                    ],
                },
            ],
        },
        {
            "id": "T456",
            "period": {"start": "2024-01-01", "end": "2025-12-31"},
            "use": "temp",
            "text": "Student Accommodation",
            "line": ["1 Trevelyan Square", "Boar Lane", "City Centre", "Leeds", "West Yorkshire"],
            "postalCode": "LS1 6AE",
            "extension": [
                {
                    "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
                    "extension": [
                        {
                            "url": "type",
                            "valueCoding": {
                                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                                "code": "PAF",
                            },
                        },
                        {"url": "value", "valueString": "12345678"},
                    ],
                },
                {
                    "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
                    "extension": [
                        {
                            "url": "type",
                            "valueCoding": {
                                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                                "code": "UPRN",
                            },
                        },
                        {"url": "value", "valueString": "123456789012"},
                    ],
                },
            ],
        },
    ],
}

# PDS `GET Patient/9000000025`: restricted (meta.security R); no address, telecom or GP.
# Source: tests/fixtures/pds/Sensitive_Patient.json
SENSITIVE_PATIENT: Final[dict[str, Any]] = {
    "resourceType": "Patient",
    "id": "9000000025",
    "identifier": [
        {
            "system": "https://fhir.nhs.uk/Id/nhs-number",
            "value": "9000000025",
            "extension": [
                {
                    "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                    "valueCodeableConcept": {
                        "coding": [
                            {
                                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus",
                                "version": "1.0.0",
                                "code": "01",
                                "display": "Number present and verified",
                            }
                        ]
                    },
                }
            ],
        }
    ],
    "meta": {
        "versionId": "2",
        "security": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                "code": "R",
                "display": "restricted",
            }
        ],
    },
    "name": [
        {
            "id": "123",
            "use": "usual",
            "period": {"start": "2024-01-01", "end": "2025-12-31"},
            "given": ["Janet"],
            "family": "Smythe",
            "prefix": ["Mrs"],
            "suffix": ["MBE"],
        }
    ],
    "gender": "female",
    "birthDate": "2010-10-22",
    "multipleBirthInteger": 1,
    "deceasedDateTime": "2010-10-22T00:00:00+00:00",
    "extension": [
        {
            "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus",
            "extension": [
                {
                    "url": "deathNotificationStatus",
                    "valueCodeableConcept": {
                        "coding": [
                            {
                                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus",
                                "version": "1.0.0",
                                "code": "2",
                                "display": "Formal - death "
                                "notice received "
                                "from Registrar of "
                                "Deaths",
                            }
                        ]
                    },
                },
                {"url": "systemEffectiveDate", "valueDateTime": "2010-10-22T00:00:00+00:00"},
            ],
        }
    ],
}

# PDS `GET Patient/9000000033`: a record with nothing but the number.
# Source: tests/fixtures/pds/Minimal_Patient.json
MINIMAL_PATIENT: Final[dict[str, Any]] = {
    "resourceType": "Patient",
    "id": "9000000033",
    "identifier": [
        {
            "system": "https://fhir.nhs.uk/Id/nhs-number",
            "value": "9000000033",
            "extension": [
                {
                    "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                    "valueCodeableConcept": {
                        "coding": [
                            {
                                "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus",
                                "version": "1.0.0",
                                "code": "01",
                                "display": "Number present and verified",
                            }
                        ]
                    },
                }
            ],
        }
    ],
    "meta": {
        "versionId": "2",
        "security": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                "code": "U",
                "display": "unrestricted",
            }
        ],
    },
}

# PDS `GET Patient?family=Smith&given=Jane&birthdate=eq2010-10-22`: one match.
# Source: tests/fixtures/pds/PatientSearch.json
PATIENT_SEARCH: Final[dict[str, Any]] = {
    "resourceType": "Bundle",
    "type": "searchset",
    "timestamp": "2019-12-25T12:00:00+00:00",
    "total": 1,
    "entry": [
        {
            "fullUrl": "https://api.service.nhs.uk/personal-demographics/FHIR/R4/Patient/9000000009",
            "search": {"score": 0.75},
            "resource": {
                "resourceType": "Patient",
                "id": "9000000009",
                "identifier": [
                    {
                        "system": "https://fhir.nhs.uk/Id/nhs-number",
                        "value": "9000000009",
                        "extension": [
                            {
                                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                                "valueCodeableConcept": {
                                    "coding": [
                                        {
                                            "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus",
                                            "version": "1.0.0",
                                            "code": "01",
                                            "display": "Number present and verified",
                                        }
                                    ]
                                },
                            }
                        ],
                    }
                ],
                "meta": {
                    "versionId": "2",
                    "security": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                            "code": "U",
                            "display": "unrestricted",
                        }
                    ],
                },
                "name": [
                    {
                        "id": "123",
                        "use": "usual",
                        "period": {"start": "2024-01-01", "end": "2025-12-31"},
                        "given": ["Jane"],
                        "family": "Smith",
                        "prefix": ["Mrs"],
                        "suffix": ["MBE"],
                    }
                ],
                "gender": "female",
                "birthDate": "2010-10-22",
                "multipleBirthInteger": 1,
                "deceasedDateTime": "2010-10-22T00:00:00+00:00",
                "address": [
                    {
                        "id": "456",
                        "period": {"start": "2024-01-01", "end": "2025-12-31"},
                        "use": "home",
                        "line": [
                            "1 Trevelyan Square",
                            "Boar Lane",
                            "City Centre",
                            "Leeds",
                            "West Yorkshire",
                        ],
                        "postalCode": "LS1 6AE",
                        "extension": [
                            {
                                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
                                "extension": [
                                    {
                                        "url": "type",
                                        "valueCoding": {
                                            "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                                            "code": "PAF",
                                        },
                                    },
                                    {"url": "value", "valueString": "12345678"},
                                ],
                            },
                            {
                                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
                                "extension": [
                                    {
                                        "url": "type",
                                        "valueCoding": {
                                            "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                                            "code": "UPRN",
                                        },
                                    },
                                    {"url": "value", "valueString": "123456789012"},
                                ],
                            },
                        ],
                    }
                ],
                "telecom": [
                    {
                        "id": "789",
                        "period": {"start": "2024-01-01", "end": "2025-12-31"},
                        "system": "phone",
                        "value": "01632960587",
                        "use": "home",
                    },
                    {
                        "id": "790",
                        "period": {"start": "2019-01-01", "end": "2022-12-31"},
                        "system": "email",
                        "value": "jane.smith@example.com",
                        "use": "home",
                    },
                    {
                        "id": "OC789",
                        "period": {"start": "2024-01-01", "end": "2025-12-31"},
                        "system": "other",
                        "value": "01632960587",
                        "use": "home",
                        "extension": [
                            {
                                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-OtherContactSystem",
                                "valueCoding": {
                                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-OtherContactSystem",
                                    "code": "textphone",
                                    "display": "Minicom (Textphone)",
                                },
                            }
                        ],
                    },
                ],
                "contact": [
                    {
                        "id": "C123",
                        "period": {"start": "2024-01-01", "end": "2025-12-31"},
                        "relationship": [
                            {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                                        "code": "C",
                                        "display": "Emergency Contact",
                                    }
                                ]
                            }
                        ],
                        "telecom": [{"system": "phone", "value": "01632960587"}],
                    }
                ],
                "generalPractitioner": [
                    {
                        "id": "254406A3",
                        "type": "Organization",
                        "identifier": {
                            "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                            "value": "Y12345",
                            "period": {"start": "2024-01-01", "end": "2025-12-31"},
                        },
                    }
                ],
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus",
                        "extension": [
                            {
                                "url": "deathNotificationStatus",
                                "valueCodeableConcept": {
                                    "coding": [
                                        {
                                            "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus",
                                            "version": "1.0.0",
                                            "code": "2",
                                            "display": "Formal "
                                            "- "
                                            "death "
                                            "notice "
                                            "received "
                                            "from "
                                            "Registrar "
                                            "of "
                                            "Deaths",
                                        }
                                    ]
                                },
                            },
                            {
                                "url": "systemEffectiveDate",
                                "valueDateTime": "2010-10-22T00:00:00+00:00",
                            },
                        ],
                    }
                ],
            },
        }
    ],
}

# PDS 404: no such person.
# Source: tests/fixtures/pds/error_RESOURCE_NOT_FOUND.json
ERROR_RESOURCE_NOT_FOUND: Final[dict[str, Any]] = {
    "issue": [
        {
            "code": "not-found",
            "details": {
                "coding": [
                    {
                        "code": "RESOURCE_NOT_FOUND",
                        "display": "Resource not found",
                        "system": "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode",
                        "version": "1",
                    }
                ]
            },
            "severity": "information",
        }
    ],
    "resourceType": "OperationOutcome",
}

# PDS 404: the record was invalidated.
# Source: tests/fixtures/pds/error_INVALIDATED_RESOURCE.json
ERROR_INVALIDATED_RESOURCE: Final[dict[str, Any]] = {
    "issue": [
        {
            "code": "processing",
            "details": {
                "coding": [
                    {
                        "code": "INVALIDATED_RESOURCE",
                        "display": "Resource that has been marked as invalid was "
                        "requested - invalid resources cannot be retrieved",
                        "system": "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode",
                        "version": "1",
                    }
                ]
            },
            "severity": "error",
        }
    ],
    "resourceType": "OperationOutcome",
}

# PDS 400: the number is not a valid NHS number.
# Source: tests/fixtures/pds/error_INVALID_RESOURCE_ID.json
ERROR_INVALID_RESOURCE_ID: Final[dict[str, Any]] = {
    "resourceType": "OperationOutcome",
    "issue": [
        {
            "severity": "error",
            "code": "value",
            "details": {
                "coding": [
                    {
                        "system": "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode",
                        "version": "1",
                        "code": "INVALID_RESOURCE_ID",
                        "display": "Resource Id is invalid",
                    }
                ]
            },
        }
    ],
}

# NRL: a mental health crisis plan pointer held by trust RQI.
# Source: tests/fixtures/nrl/nrlf_RQI-736253002-Valid.json
CRISIS_PLAN_POINTER: Final[dict[str, Any]] = {
    "resourceType": "DocumentReference",
    "id": "RQI-99999-99999-999999",
    "status": "current",
    "docStatus": "final",
    "type": {
        "coding": [
            {
                "system": "http://snomed.info/sct",
                "code": "736253002",
                "display": "Mental health crisis plan",
            }
        ]
    },
    "category": [
        {
            "coding": [
                {"system": "http://snomed.info/sct", "code": "734163000", "display": "Care plan"}
            ]
        }
    ],
    "subject": {
        "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "6700028191"}
    },
    "author": [
        {"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RQI"}}
    ],
    "custodian": {
        "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RQI"}
    },
    "description": "Physical document mental health crisis plan",
    "securityLabel": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                    "code": "V",
                    "display": "very restricted",
                }
            ]
        }
    ],
    "content": [
        {
            "attachment": {
                "contentType": "application/pdf",
                "language": "en-US",
                "url": "https://spine-proxy.national.ncrs.nhs.uk/https%3A%2F%2Fp1.nhs.uk%2FMentalhealthCrisisPlanReport.pdf",
                "size": 3654,
                "hash": "2jmj7l5rSw0yVb/vlWAYkK/YBwk=",
                "title": "Mental health crisis plan report",
                "creation": "2022-12-21T10:45:41+11:00",
            },
            "format": {
                "system": "https://fhir.nhs.uk/England/CodeSystem/England-NRLFormatCode",
                "code": "urn:nhs-ic:unstructured",
                "display": "Unstructured document",
            },
            "extension": [
                {
                    "url": "https://fhir.nhs.uk/England/StructureDefinition/Extension-England-ContentStability",
                    "valueCodeableConcept": {
                        "coding": [
                            {
                                "system": "https://fhir.nhs.uk/England/CodeSystem/England-NRLContentStability",
                                "code": "static",
                                "display": "static",
                            }
                        ]
                    },
                }
            ],
        }
    ],
    "context": {
        "practiceSetting": {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "788002001",
                    "display": "Adult mental health service",
                }
            ]
        },
        "sourcePatientInfo": {
            "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "6700028191"}
        },
    },
}
