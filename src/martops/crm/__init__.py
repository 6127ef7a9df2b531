"""CRM: standardise the exports, deduplicate people and companies, golden records, CRM marts."""
