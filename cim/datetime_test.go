package cim

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseDatetimeValid(t *testing.T) {
	cases := []struct {
		in     string
		ts     bool
		fields DatetimeFields
		prec   int
	}{
		{"20240131235959.123456-300", true, DatetimeFields{Year: 2024, Month: 1, Day: 31, Hour: 23, Minute: 59, Second: 59, Microsecond: 123456, UTCOffset: -300}, 21},
		{"00000101000000.000000+000", true, DatetimeFields{Year: 0, Month: 1, Day: 1}, 21},
		{"99991231235959.999999+999", true, DatetimeFields{Year: 9999, Month: 12, Day: 31, Hour: 23, Minute: 59, Second: 59, Microsecond: 999999, UTCOffset: 999}, 21},
		{"20240229120000.000000+060", true, DatetimeFields{Year: 2024, Month: 2, Day: 29, Hour: 12, UTCOffset: 60}, 21},
		{"20000229000000.000000+000", true, DatetimeFields{Year: 2000, Month: 2, Day: 29}, 21},
		{"20240131235959.123***-300", true, DatetimeFields{Year: 2024, Month: 1, Day: 31, Hour: 23, Minute: 59, Second: 59, Microsecond: 123000, UTCOffset: -300}, 18},
		{"20240131235959.******+000", true, DatetimeFields{Year: 2024, Month: 1, Day: 31, Hour: 23, Minute: 59, Second: 59}, 15},
		{"20240131******.******+000", true, DatetimeFields{Year: 2024, Month: 1, Day: 31}, 8},
		{"2024**********.******+000", true, DatetimeFields{Year: 2024, Month: 1, Day: 1}, 4},
		{"**************.******+000", true, DatetimeFields{Year: 0, Month: 1, Day: 1}, 0},
		{"00000000000000.000000:000", false, DatetimeFields{}, 21},
		{"00000001120032.000000:000", false, DatetimeFields{Days: 1, Hour: 12, Second: 32}, 21},
		{"99999999235959.999999:000", false, DatetimeFields{Days: 99999999, Hour: 23, Minute: 59, Second: 59, Microsecond: 999999}, 21},
		{"00000010170417.0887**:000", false, DatetimeFields{Days: 10, Hour: 17, Minute: 4, Second: 17, Microsecond: 88700}, 19},
		{"0000001017****.******:000", false, DatetimeFields{Days: 10, Hour: 17}, 10},
		{"**************.******:000", false, DatetimeFields{}, 0},
	}
	for _, c := range cases {
		d, err := ParseDatetime(c.in)
		if err != nil {
			t.Errorf("ParseDatetime(%q): %v", c.in, err)
			continue
		}
		if d.IsTimestamp() != c.ts || d.IsInterval() == c.ts {
			t.Errorf("%q: timestamp = %v", c.in, d.IsTimestamp())
		}
		if got := d.Fields(); got != c.fields {
			t.Errorf("%q: fields %+v, want %+v", c.in, got, c.fields)
		}
		if d.Precision() != c.prec {
			t.Errorf("%q: precision %d, want %d", c.in, d.Precision(), c.prec)
		}
		if d.String() != c.in {
			t.Errorf("%q printed back as %q", c.in, d.String())
		}
		// Through a Value and back.
		if NewDatetime(d).Datetime() != d {
			t.Errorf("%q does not survive a Value", c.in)
		}
	}
}

func TestParseDatetimeInvalid(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "length 0"},
		{"20240131235959.123456-30", "length 24"},
		{"20240131235959.123456-3000", "length 26"},
		{"20240131235959,123456-300", "character 15 must be '.'"},
		{"20240131235959.123456*300", "character 22"},
		{"00000001120032.000000:001", "must end in \":000\""},
		{"20241331235959.123456-300", "month 13 out of range 1..12"},
		{"20240001235959.123456-300", "month 0 out of range"},
		{"20240100235959.123456-300", "day 0 out of range 1..31"},
		{"20240230000000.000000+000", "day 30 out of range 1..29"},
		{"20230229000000.000000+000", "day 29 out of range 1..28"},
		{"19000229000000.000000+000", "day 29 out of range 1..28"},
		{"20240431000000.000000+000", "day 31 out of range 1..30"},
		{"20240131245959.123456-300", "hour 24 out of range 0..23"},
		{"20240131236059.123456-300", "minute 60 out of range 0..59"},
		{"20240131235960.123456-300", "second 60 out of range 0..59"},
		{"00000001240000.000000:000", "hour 24 out of range"},
		{"2024013123595a.123456-300", "invalid character 'a' at position 14"},
		{"20240131235959.123456-3a0", "UTC offset must be three digits"},
		{"20240131235959.123456-**0", "UTC offset must be three digits"},
		{"20240131235959.12*456-300", "asterisks must extend to the end"},
		{"2024013123595*.******-300", "asterisks must replace whole fields"},
		{"202*0131235959.123456-300", "asterisks must extend"},
		{"202***********.******+000", "asterisks must replace whole fields"},
		{"0000000*******.******:000", "asterisks must replace whole fields"},
		{"2024****235959.123456+000", "asterisks must extend"},
		{"-0240131235959.123456+000", "invalid character '-'"},
		{"+0240131235959.123456+000", "invalid character '+'"},
		{" 0240131235959.123456+000", "invalid character ' '"},
	}
	for _, c := range cases {
		_, err := ParseDatetime(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("ParseDatetime(%q) = %v, want error containing %q", c.in, err, c.want)
		}
	}
}

func TestDatetimeTimeConversions(t *testing.T) {
	zone := time.FixedZone("IST", 5*3600+30*60)
	tm := time.Date(2024, 3, 10, 8, 15, 30, 123456789, zone)
	d, err := TimestampOf(tm)
	if err != nil {
		t.Fatal(err)
	}
	if d.String() != "20240310081530.123456+330" || d.UTCOffset() != 330 {
		t.Errorf("TimestampOf = %s", d)
	}
	if !d.Time().Equal(tm.Truncate(time.Microsecond)) {
		t.Errorf("Time() = %v, want %v", d.Time(), tm)
	}
	if _, off := d.Time().Zone(); off != 330*60 {
		t.Errorf("zone offset %d", off)
	}
	// Offsets that are not whole minutes keep the instant.
	lmt := time.Date(1900, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", 75))
	d, _ = TimestampOf(lmt)
	if !d.Time().Equal(lmt) || d.UTCOffset() != 1 {
		t.Errorf("LMT: %s %v", d, d.Time())
	}
	for _, bad := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 17*3600)),
	} {
		if _, err := TimestampOf(bad); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("TimestampOf(%v) = %v", bad, err)
		}
	}
	if d, err := TimestampOf(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil || d.String() != "00000101000000.000000+000" {
		t.Errorf("year 0: %s %v", d, err)
	}

	iv, err := IntervalOf(36*time.Hour + 32*time.Second + 1500*time.Nanosecond)
	if err != nil || iv.String() != "00000001120032.000001:000" {
		t.Errorf("IntervalOf = %s, %v", iv, err)
	}
	if dur, ok := iv.Duration(); !ok || dur != 36*time.Hour+32*time.Second+time.Microsecond {
		t.Errorf("Duration = %v %v", dur, ok)
	}
	if _, err := IntervalOf(-time.Second); err == nil {
		t.Error("negative interval accepted")
	}
	long := mustDT("99999999000000.000000:000")
	if _, ok := long.Duration(); ok {
		t.Error("an interval beyond time.Duration must report !ok")
	}
	if long.Microseconds() != 99999999*usPerDay {
		t.Error("Microseconds of a long interval")
	}
	ts := mustDT("20240101000000.000000+000")
	if _, ok := ts.Duration(); ok || ts.Microseconds() != 0 || !(Datetime{}).Time().IsZero() {
		t.Error("timestamp/interval accessors crossed")
	}
	if (Datetime{}).String() != "00000000000000.000000:000" {
		t.Error("zero Datetime must be the zero interval")
	}
}

func TestNewTimestampAndInterval(t *testing.T) {
	d, err := NewTimestamp(2024, 2, 29, 23, 59, 59, 999999, -720)
	if err != nil || d.String() != "20240229235959.999999-720" {
		t.Errorf("NewTimestamp = %s, %v", d, err)
	}
	if _, err := NewTimestamp(2023, 2, 29, 0, 0, 0, 0, 0); err == nil || !strings.Contains(err.Error(), "day 29") {
		t.Errorf("Feb 29 2023: %v", err)
	}
	if _, err := NewTimestamp(2023, 1, 1, 0, 0, 0, 0, 1000); err == nil || !strings.Contains(err.Error(), "UTC offset 1000") {
		t.Errorf("offset 1000: %v", err)
	}
	iv, err := NewInterval(3, 4, 5, 6, 7)
	if err != nil || iv.String() != "00000003040506.000007:000" {
		t.Errorf("NewInterval = %s, %v", iv, err)
	}
	if _, err := NewInterval(100000000, 0, 0, 0, 0); err == nil {
		t.Error("days beyond 99999999 accepted")
	}
	if _, err := NewInterval(0, 0, 0, 0, 1000000); err == nil {
		t.Error("microseconds beyond 999999 accepted")
	}
	if got := mustDT("20240101000000.000000+000").GoString(); got != `cim.ParseDatetime("20240101000000.000000+000")` {
		t.Errorf("GoString = %s", got)
	}
}

// The text form is canonical: equal Datetimes print alike and different
// ones differently, so == on Datetime matches comparing text.
func TestDatetimeEqualityIsTextual(t *testing.T) {
	a := mustDT("20240101010000.000000+060")
	b := mustDT("20240101000000.000000+000")
	if a == b || !a.Time().Equal(b.Time()) {
		t.Error("same instant, different offsets: must differ as values but agree as times")
	}
	if mustDT("20240101000000.000000+000") != mustDT("20240101000000.000000-000") {
		t.Error("+000 and -000 are the same offset")
	}
}
