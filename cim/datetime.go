package cim

import (
	"strconv"
	"time"
)

// Datetime is a CIM datetime value (DSP0004 clause 5.2.4): either a
// timestamp, a point in time with a UTC offset, written
//
//	yyyymmddhhmmss.mmmmmmsutc   e.g. 20240131235959.123456-300
//
// or an interval, a duration written
//
//	ddddddddhhmmss.mmmmmm:000   e.g. 00000001120032.000000:000
//
// Both are exactly 25 characters. Fields that are not significant are
// written as asterisks, starting with the least significant: whole fields,
// except the microseconds, whose digits can be replaced one at a time
// (20240131******.******+000 is January 31st, 2024; 20240131235959.123***-300
// has millisecond precision). The UTC offset is never an asterisk. Fields
// under asterisks read as their smallest value (month and day 1, others 0).
//
// The zero Datetime is the zero interval 00000000000000.000000:000. Datetime
// values are comparable with ==, which compares their text forms.
type Datetime struct {
	us   int64 // timestamp: µs of the wall clock since 0000-01-01T00:00; interval: total µs
	off  int16 // timestamp: minutes east of UTC
	wild uint8 // number of trailing characters of the 21-character body that are asterisks
	ts   bool  // timestamp (true) or interval (false)
}

const (
	usPerSecond = 1_000_000
	usPerMinute = 60 * usPerSecond
	usPerHour   = 60 * usPerMinute
	usPerDay    = 24 * usPerHour
	maxDays     = 99_999_999
	maxOffset   = 999
	bodyLen     = 21 // "yyyymmddhhmmss.mmmmmm" / "ddddddddhhmmss.mmmmmm"
)

// epoch0 is 0000-01-01T00:00:00Z in Unix microseconds.
const epoch0 = -62167219200 * usPerSecond

func (d Datetime) pack() uint32 {
	a := uint32(d.wild)<<1 | uint32(int32(d.off)+1024)<<6
	if d.ts {
		a |= 1
	}
	return a
}

func unpackDatetime(us int64, a uint32) Datetime {
	return Datetime{us: us, ts: a&1 != 0, wild: uint8(a >> 1 & 31), off: int16(int32(a>>6&2047) - 1024)}
}

// DatetimeFields are the fields of a Datetime. For timestamps Days is 0;
// for intervals Year, Month, Day and UTCOffset are 0.
type DatetimeFields struct {
	Year, Month, Day int
	Days             int
	Hour, Minute     int
	Second           int
	Microsecond      int
	UTCOffset        int // minutes east of UTC
}

// NewTimestamp returns the timestamp with the given fields. It checks every
// field's range, including the day against the month's length.
func NewTimestamp(year, month, day, hour, minute, second, microsecond, utcOffset int) (Datetime, error) {
	f := DatetimeFields{Year: year, Month: month, Day: day, Hour: hour, Minute: minute,
		Second: second, Microsecond: microsecond, UTCOffset: utcOffset}
	if msg := f.checkTimestamp(); msg != "" {
		return Datetime{}, Errorf(ErrInvalidParameter, "invalid timestamp: %s", msg)
	}
	return f.timestamp(0), nil
}

// NewInterval returns the interval with the given fields (days up to
// 99999999, hours 0..23, minutes and seconds 0..59, microseconds
// 0..999999).
func NewInterval(days, hours, minutes, seconds, microseconds int) (Datetime, error) {
	f := DatetimeFields{Days: days, Hour: hours, Minute: minutes, Second: seconds, Microsecond: microseconds}
	if msg := f.checkInterval(); msg != "" {
		return Datetime{}, Errorf(ErrInvalidParameter, "invalid interval: %s", msg)
	}
	return f.interval(0), nil
}

func rangeMsg(field string, v, lo, hi int) string {
	if v < lo || v > hi {
		return field + " " + strconv.Itoa(v) + " out of range " + strconv.Itoa(lo) + ".." + strconv.Itoa(hi)
	}
	return ""
}

func daysIn(month, year int) int {
	switch month {
	case 4, 6, 9, 11:
		return 30
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31
}

func (f DatetimeFields) checkClock() string {
	for _, m := range [...]string{
		rangeMsg("hour", f.Hour, 0, 23),
		rangeMsg("minute", f.Minute, 0, 59),
		rangeMsg("second", f.Second, 0, 59),
		rangeMsg("microsecond", f.Microsecond, 0, 999999),
	} {
		if m != "" {
			return m
		}
	}
	return ""
}

func (f DatetimeFields) checkTimestamp() string {
	if m := rangeMsg("year", f.Year, 0, 9999); m != "" {
		return m
	}
	if m := rangeMsg("month", f.Month, 1, 12); m != "" {
		return m
	}
	if m := rangeMsg("day", f.Day, 1, daysIn(f.Month, f.Year)); m != "" {
		return m
	}
	if m := f.checkClock(); m != "" {
		return m
	}
	return rangeMsg("UTC offset", f.UTCOffset, -maxOffset, maxOffset)
}

func (f DatetimeFields) checkInterval() string {
	if m := rangeMsg("days", f.Days, 0, maxDays); m != "" {
		return m
	}
	return f.checkClock()
}

func (f DatetimeFields) timestamp(wild int) Datetime {
	t := time.Date(f.Year, time.Month(f.Month), f.Day, f.Hour, f.Minute, f.Second, f.Microsecond*1000, time.UTC)
	return Datetime{us: t.UnixMicro() - epoch0, off: int16(f.UTCOffset), wild: uint8(wild), ts: true}
}

func (f DatetimeFields) interval(wild int) Datetime {
	us := int64(f.Days)*usPerDay + int64(f.Hour)*usPerHour + int64(f.Minute)*usPerMinute +
		int64(f.Second)*usPerSecond + int64(f.Microsecond)
	return Datetime{us: us, wild: uint8(wild)}
}

// TimestampOf returns the timestamp of t, truncated to microseconds, with
// t's UTC offset (rounded to whole minutes, keeping the instant). Times
// whose wall clock is outside years 0..9999 give an error.
func TimestampOf(t time.Time) (Datetime, error) {
	_, offSec := t.Zone()
	off := (offSec + 30*sign(offSec)) / 60
	if off < -maxOffset || off > maxOffset {
		return Datetime{}, Errorf(ErrInvalidParameter, "UTC offset of %v is more than 999 minutes", t)
	}
	if off*60 != offSec {
		t = t.In(time.FixedZone("", off*60))
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return Datetime{}, Errorf(ErrInvalidParameter, "year %d of %v is outside 0..9999", y, t)
	}
	wall := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	return Datetime{us: wall.UnixMicro() - epoch0, off: int16(off), ts: true}, nil
}

func sign(n int) int {
	if n < 0 {
		return -1
	}
	return 1
}

// IntervalOf returns the interval of d, truncated to microseconds.
// Negative durations give an error.
func IntervalOf(d time.Duration) (Datetime, error) {
	if d < 0 {
		return Datetime{}, Errorf(ErrInvalidParameter, "negative interval %v", d)
	}
	return Datetime{us: d.Microseconds()}, nil
}

// ParseDatetime parses the 25-character text form of a timestamp or
// interval, with asterisk wildcards as DSP0004 allows them.
func ParseDatetime(s string) (Datetime, error) {
	d, msg := parseDatetime(s)
	if msg != "" {
		return Datetime{}, Errorf(ErrInvalidParameter, "invalid datetime %q: %s", s, msg)
	}
	return d, nil
}

func parseDatetime(s string) (Datetime, string) {
	if len(s) != 25 {
		return Datetime{}, "length " + strconv.Itoa(len(s)) + ", want 25 characters"
	}
	if s[14] != '.' {
		return Datetime{}, "character 15 must be '.'"
	}
	var ts bool
	switch s[21] {
	case '+', '-':
		ts = true
	case ':':
		if s[22:] != "000" {
			return Datetime{}, "an interval must end in \":000\""
		}
	default:
		return Datetime{}, "character 22 must be '+' or '-' (timestamp) or ':' (interval)"
	}
	// Locate the wildcards: one run of asterisks reaching to the end of the
	// body, starting at a field boundary or inside the microseconds.
	first := bodyLen
	for i := 0; i < bodyLen; i++ {
		if s[i] == '*' {
			first = i
			break
		}
	}
	for i := first; i < bodyLen; i++ {
		if i != 14 && s[i] != '*' {
			return Datetime{}, "asterisks must extend to the end of the microseconds"
		}
	}
	if !wildcardStart(ts, first) {
		return Datetime{}, "asterisks must replace whole fields (only microsecond digits may be replaced singly)"
	}
	num := func(from, to int) (int, string) {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if i >= first {
				c = '0'
			}
			if c < '0' || c > '9' {
				return 0, "invalid character " + strconv.QuoteRune(rune(s[i])) + " at position " + strconv.Itoa(i+1)
			}
			n = n*10 + int(c-'0')
		}
		return n, ""
	}
	var f DatetimeFields
	var msg string
	get := func(p *int, from, to int) {
		if msg == "" {
			*p, msg = num(from, to)
		}
	}
	if ts {
		get(&f.Year, 0, 4)
		get(&f.Month, 4, 6)
		get(&f.Day, 6, 8)
	} else {
		get(&f.Days, 0, 8)
	}
	get(&f.Hour, 8, 10)
	get(&f.Minute, 10, 12)
	get(&f.Second, 12, 14)
	get(&f.Microsecond, 15, 21)
	if msg != "" {
		return Datetime{}, msg
	}
	wild := bodyLen - first
	if !ts {
		if msg = f.checkInterval(); msg != "" {
			return Datetime{}, msg
		}
		return f.interval(wild), ""
	}
	for i := 22; i < 25; i++ {
		if s[i] < '0' || s[i] > '9' {
			return Datetime{}, "the UTC offset must be three digits"
		}
	}
	f.UTCOffset = int(s[22]-'0')*100 + int(s[23]-'0')*10 + int(s[24]-'0')
	if s[21] == '-' {
		f.UTCOffset = -f.UTCOffset
	}
	// Unspecified month and day read as 1, the smallest valid value.
	if first <= 4 {
		f.Month = 1
	}
	if first <= 6 {
		f.Day = 1
	}
	if msg = f.checkTimestamp(); msg != "" {
		return Datetime{}, msg
	}
	return f.timestamp(wild), ""
}

// wildcardStart reports whether asterisks may start at body position p:
// at a field boundary (yyyy mm dd hh mm ss / dddddddd hh mm ss) or at any
// microsecond digit.
func wildcardStart(ts bool, p int) bool {
	switch p {
	case 0, 8, 10, 12:
		return true
	case 4, 6:
		return ts
	}
	return p >= 15
}

// IsTimestamp reports whether d is a point in time.
func (d Datetime) IsTimestamp() bool { return d.ts }

// IsInterval reports whether d is a time interval.
func (d Datetime) IsInterval() bool { return !d.ts }

// Precision returns how many characters of the 21-character body
// ("yyyymmddhhmmss.mmmmmm") are significant: 21 when there are no asterisks.
func (d Datetime) Precision() int { return bodyLen - int(d.wild) }

// Fields returns the fields of d; fields under asterisks hold their
// smallest value.
func (d Datetime) Fields() DatetimeFields {
	if !d.ts {
		us := d.us
		f := DatetimeFields{Days: int(us / usPerDay)}
		us %= usPerDay
		f.Hour, us = int(us/usPerHour), us%usPerHour
		f.Minute, us = int(us/usPerMinute), us%usPerMinute
		f.Second, f.Microsecond = int(us/usPerSecond), int(us%usPerSecond)
		return f
	}
	t := time.UnixMicro(d.us + epoch0).UTC()
	return DatetimeFields{Year: t.Year(), Month: int(t.Month()), Day: t.Day(), Hour: t.Hour(),
		Minute: t.Minute(), Second: t.Second(), Microsecond: t.Nanosecond() / 1000, UTCOffset: int(d.off)}
}

// UTCOffset returns the UTC offset of a timestamp in minutes east of UTC.
func (d Datetime) UTCOffset() int { return int(d.off) }

// Time returns a timestamp as a time.Time in a fixed zone with d's UTC
// offset; it returns the zero time.Time for an interval.
func (d Datetime) Time() time.Time {
	if !d.ts {
		return time.Time{}
	}
	f := d.Fields()
	return time.Date(f.Year, time.Month(f.Month), f.Day, f.Hour, f.Minute, f.Second, f.Microsecond*1000,
		time.FixedZone("", f.UTCOffset*60))
}

// Duration returns an interval as a time.Duration; ok is false for a
// timestamp or an interval longer than time.Duration can hold (about 292
// years).
func (d Datetime) Duration() (dur time.Duration, ok bool) {
	if d.ts || d.us > int64(1<<63-1)/1000 {
		return 0, false
	}
	return time.Duration(d.us) * time.Microsecond, true
}

// Microseconds returns the total length of an interval in microseconds (0
// for a timestamp).
func (d Datetime) Microseconds() int64 {
	if d.ts {
		return 0
	}
	return d.us
}

// String returns the 25-character text form.
func (d Datetime) String() string { return string(d.AppendText(make([]byte, 0, 25))) }

// GoString returns a Go expression for d, for debugging.
func (d Datetime) GoString() string { return "cim.ParseDatetime(" + strconv.Quote(d.String()) + ")" }

// AppendText appends the 25-character text form of d to dst.
func (d Datetime) AppendText(dst []byte) []byte {
	f := d.Fields()
	start := len(dst)
	if d.ts {
		dst = appendDigits(dst, f.Year, 4)
		dst = appendDigits(dst, f.Month, 2)
		dst = appendDigits(dst, f.Day, 2)
	} else {
		dst = appendDigits(dst, f.Days, 8)
	}
	dst = appendDigits(dst, f.Hour, 2)
	dst = appendDigits(dst, f.Minute, 2)
	dst = appendDigits(dst, f.Second, 2)
	dst = append(dst, '.')
	dst = appendDigits(dst, f.Microsecond, 6)
	for i := bodyLen - int(d.wild); i < bodyLen; i++ {
		if i != 14 {
			dst[start+i] = '*'
		}
	}
	if !d.ts {
		return append(dst, ":000"...)
	}
	off := f.UTCOffset
	if off < 0 {
		dst = append(dst, '-')
		off = -off
	} else {
		dst = append(dst, '+')
	}
	return appendDigits(dst, off, 3)
}

func appendDigits(dst []byte, n, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for ; width > 0 || n > 0; width-- {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return append(dst, buf[i:]...)
}
