"""One way to write dates and times on every page: "2026-12-01 14:05 UTC" (with the zone), and
dates as "2026-12-01". Django's English formats ("Dec. 1, 2026, 2:05 p.m.") are replaced here
so that the admin's fields, lists and history tables all agree with the exports' ISO dates."""

DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "F j"
YEAR_MONTH_FORMAT = "F Y"
FIRST_DAY_OF_WEEK = 1  # Monday
