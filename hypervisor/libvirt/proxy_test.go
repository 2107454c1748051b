package libvirt_test

import (
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
)

// proxy forwards a UNIX socket to libvirtd's, so a test can cut an
// engine's connections as a libvirtd restart would, while libvirtd and its
// domains keep running.
type proxy struct {
	path   string
	target string
	ln     net.Listener

	mu      sync.Mutex
	conns   map[net.Conn]bool
	blocked bool
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{path: filepath.Join(t.TempDir(), "libvirt-sock"), target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.ln = ln
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		blocked := p.blocked
		p.mu.Unlock()
		if blocked {
			c.Close() // "libvirtd is down"
			continue
		}
		up, err := net.Dial("unix", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.track(c, up)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *proxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.conns[c] = true
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// cut closes every forwarded connection and refuses new ones until heal.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *proxy) heal() {
	p.mu.Lock()
	p.blocked = false
	p.mu.Unlock()
}
