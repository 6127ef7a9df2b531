"""Lead scoring (issue 19): points rules and a calibrated model, with reasons per lead."""
