package queue

// Gather copies up to len(p) bytes of the chain's device-readable buffers,
// starting skip bytes in, into p and returns how many it copied.
func (c *Chain) Gather(p []byte, skip int) int {
	n := 0
	for _, b := range c.Readable {
		if skip >= len(b) {
			skip -= len(b)
			continue
		}
		n += copy(p[n:], b[skip:])
		skip = 0
		if n == len(p) {
			break
		}
	}
	return n
}

// Scatter copies p into the chain's device-writable buffers, starting skip
// bytes in, and returns how many bytes fitted.
func (c *Chain) Scatter(p []byte, skip int) int {
	n := 0
	for _, b := range c.Writable {
		if skip >= len(b) {
			skip -= len(b)
			continue
		}
		n += copy(b[skip:], p[n:])
		skip = 0
		if n == len(p) {
			break
		}
	}
	return n
}

// Segments returns the buffers covering bytes [from, to) of bufs, aliasing
// guest memory, so devices can do I/O straight into it.
func Segments(bufs [][]byte, from, to int) [][]byte {
	var out [][]byte
	pos := 0
	for _, b := range bufs {
		start, end := pos, pos+len(b)
		pos = end
		if end <= from || start >= to {
			continue
		}
		lo, hi := max(from-start, 0), min(to, end)-start
		out = append(out, b[lo:hi])
	}
	return out
}
