// Command bench is the CIM-XML load generator of scripts/bench.d/50-cimxml.sh.
// It starts a real hypercimd (built by the script) with the test provider
// generating instances of about 1 KB, and measures over loopback with
// keep-alive connections:
//
//   - EnumerateInstances of 100,000 instances: instances per second, and
//     the ratio of its time to Go's net/http serving the same bytes from a
//     static file (in a process of its own, like the daemon);
//   - GetInstance with 16 concurrent clients: requests per second, p50
//     and p99 latency;
//   - the daemon's resident memory while it streams 1,000,000 instances.
//
// Usage: bench -hypercimd PATH [-count 100000] [-rounds 5] [-duration 10s]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hypercim/hypercim/wbem/auth"
)

const (
	user, password = "bench", "bench-password"
	namespace      = "root/bench"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "static-server" {
		serveStatic(os.Args[2])
		return
	}
	daemon := flag.String("hypercimd", "", "hypercimd binary to measure")
	count := flag.Int("count", 100000, "instances per EnumerateInstances")
	payload := flag.Int("payload", 520, "Payload length of each instance (520 gives about 1 KB of CIM-XML)")
	rounds := flag.Int("rounds", 5, "EnumerateInstances rounds (the median is reported)")
	duration := flag.Duration("duration", 10*time.Second, "how long the GetInstance clients run")
	clients := flag.Int("clients", 16, "concurrent GetInstance clients")
	stream := flag.Int("stream", 1000000, "instances streamed for the memory measurement")
	flag.Parse()
	if *daemon == "" {
		fmt.Fprintln(os.Stderr, "usage: bench -hypercimd PATH")
		os.Exit(2)
	}
	if err := run(*daemon, *count, *payload, *rounds, *duration, *clients, *stream); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(daemon string, count, payload, rounds int, duration time.Duration, clients, stream int) error {
	tmp, err := os.MkdirTemp("", "hypercim-cimxml-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	d, err := startDaemon(daemon, filepath.Join(tmp, "d1"), count, payload)
	if err != nil {
		return err
	}
	c := newClient(d.addr)
	// One response, kept: its bytes are what the static server serves.
	first, err := c.enumerate()
	if err != nil {
		d.stop()
		return err
	}
	if n := bytes.Count(first, []byte("<VALUE.NAMEDINSTANCE>")); n != count {
		d.stop()
		return fmt.Errorf("EnumerateInstances returned %d instances, want %d", n, count)
	}
	var times []time.Duration
	for i := 0; i < rounds; i++ {
		start := time.Now()
		n, err := c.enumerateDiscard()
		if err != nil {
			d.stop()
			return err
		}
		if n != int64(len(first)) {
			d.stop()
			return fmt.Errorf("EnumerateInstances returned %d bytes, then %d", len(first), n)
		}
		times = append(times, time.Since(start))
	}
	cimxml := median(times)

	lat, reqs, errs := getInstanceLoad(c, count, clients, duration)
	d.stop()

	file := filepath.Join(tmp, "enumerate.xml")
	if err := os.WriteFile(file, first, 0o600); err != nil {
		return err
	}
	static, err := staticBaseline(file, int64(len(first)), rounds)
	if err != nil {
		return err
	}

	perInstance := float64(len(first)) / float64(count)
	fmt.Printf("EnumerateInstances, %d instances of %.0f bytes (%.1f MB), keep-alive, median of %d\n", count, perInstance, float64(len(first))/1e6, rounds)
	fmt.Printf("  hypercimd             %7.3f s  %9.0f instances/s  %6.0f MB/s   target 200000 instances/s\n", cimxml.Seconds(), float64(count)/cimxml.Seconds(), float64(len(first))/1e6/cimxml.Seconds())
	fmt.Printf("  static file (net/http) %6.3f s  %9.0f instances/s  %6.0f MB/s\n", static.Seconds(), float64(count)/static.Seconds(), float64(len(first))/1e6/static.Seconds())
	fmt.Printf("  ratio hypercimd/static %6.2f   target < 2\n", cimxml.Seconds()/static.Seconds())
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		return errors.New("no GetInstance completed")
	}
	fmt.Printf("GetInstance, %d concurrent keep-alive clients, %v\n", clients, duration)
	fmt.Printf("  %9.0f requests/s   p50 %v   p99 %v   max %v   errors %d   target p99 < 1ms\n",
		float64(reqs)/duration.Seconds(), percentile(lat, 50), percentile(lat, 99), lat[len(lat)-1], errs)

	d2, err := startDaemon(daemon, filepath.Join(tmp, "d2"), stream, payload)
	if err != nil {
		return err
	}
	defer d2.stop()
	base, peak, n, took, err := streamRSS(d2, stream)
	if err != nil {
		return err
	}
	fmt.Printf("Streaming %d instances (%.2f GB) in %.1f s\n", stream, float64(n)/1e9, took.Seconds())
	fmt.Printf("  hypercimd RSS before %5.1f MiB, peak %5.1f MiB, growth %5.1f MiB   target growth < 100 MiB\n",
		float64(base)/(1<<20), float64(peak)/(1<<20), float64(peak-base)/(1<<20))
	return nil
}

// --- the daemon -----------------------------------------------------------

type daemon struct {
	cmd  *exec.Cmd
	addr string
	log  *bytes.Buffer
	done chan error
}

func startDaemon(bin, dir string, count, payload int) (*daemon, error) {
	users, err := auth.Open(dir, nil)
	if err != nil {
		return nil, err
	}
	if err := users.AddUser(user, password, auth.UserOptions{Admin: true}); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	d := &daemon{addr: addr, log: &bytes.Buffer{}, done: make(chan error, 1)}
	d.cmd = exec.Command(bin, "--data-dir", dir, "--cimxml-http", addr, "--cimxml-https=", "--wsman-http=", "--wsman-https=",
		"--hypervisor", "none", "--log-level", "warn",
		"--test-provider", namespace, "--test-provider-gen", strconv.Itoa(count), "--test-provider-payload", strconv.Itoa(payload))
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { d.done <- d.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
			return d, nil
		}
		select {
		case err := <-d.done:
			return nil, fmt.Errorf("hypercimd exited: %v\n%s", err, d.log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("hypercimd did not start:\n%s", d.log)
		}
	}
}

func (d *daemon) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
	}
}

// rss returns the resident set size of the daemon.
func (d *daemon) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// --- the client -------------------------------------------------------------

type client struct {
	http *http.Client
	url  string
}

func newClient(addr string) *client {
	return &client{
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}},
		url:  "http://" + addr + "/cimom",
	}
}

func body(method, params string) string {
	return `<?xml version="1.0" encoding="utf-8" ?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="` + method +
		`"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="bench"/></LOCALNAMESPACEPATH>` + params + `</IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>`
}

func (c *client) post(method, params string) (*http.Response, error) {
	req, err := http.NewRequest("POST", c.url, strings.NewReader(body(method, params)))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(user, password)
	req.Header.Set("Content-Type", `application/xml; charset="utf-8"`)
	req.Header.Set("CIMOperation", "MethodCall")
	req.Header.Set("CIMMethod", method)
	req.Header.Set("CIMObject", "root%2Fbench")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, fmt.Errorf("%s: HTTP %d: %s", method, resp.StatusCode, b)
	}
	return resp, nil
}

const enumParams = `<IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="T_Gen"/></IPARAMVALUE><IPARAMVALUE NAME="LocalOnly"><VALUE>FALSE</VALUE></IPARAMVALUE>`

func (c *client) enumerate() ([]byte, error) {
	resp, err := c.post("EnumerateInstances", enumParams)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// enumerateDiscard runs EnumerateInstances and reads the answer without
// keeping it, as the static baseline is read.
func (c *client) enumerateDiscard() (int64, error) {
	resp, err := c.post("EnumerateInstances", enumParams)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return io.Copy(io.Discard, resp.Body)
}

// getInstanceLoad runs clients goroutines doing GetInstance of random
// instances for duration.
func getInstanceLoad(c *client, count, clients int, duration time.Duration) (lat []time.Duration, reqs, errs int) {
	var mu sync.Mutex
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed))
			var local []time.Duration
			nerr := 0
			for ctx.Err() == nil {
				id := fmt.Sprintf("g%07d", rng.Intn(count))
				params := `<IPARAMVALUE NAME="InstanceName"><INSTANCENAME CLASSNAME="T_Gen"><KEYBINDING NAME="Id"><KEYVALUE VALUETYPE="string">` + id +
					`</KEYVALUE></KEYBINDING></INSTANCENAME></IPARAMVALUE><IPARAMVALUE NAME="LocalOnly"><VALUE>FALSE</VALUE></IPARAMVALUE>`
				start := time.Now()
				resp, err := c.post("GetInstance", params)
				if err == nil {
					var b []byte
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && !bytes.Contains(b, []byte(id)) {
						err = errors.New("wrong instance")
					}
				}
				if err != nil {
					nerr++
					continue
				}
				local = append(local, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, local...)
			errs += nerr
			mu.Unlock()
		}(int64(w))
	}
	wg.Wait()
	return lat, len(lat), errs
}

// streamRSS streams n instances and samples the daemon's RSS meanwhile.
func streamRSS(d *daemon, n int) (base, peak, size int64, took time.Duration, err error) {
	runtimeSettle := time.Now()
	for time.Since(runtimeSettle) < 500*time.Millisecond {
		time.Sleep(50 * time.Millisecond)
	}
	if base, err = d.rss(); err != nil {
		return
	}
	peak = base
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if r, err := d.rss(); err == nil && r > peak {
					peak = r
				}
			}
		}
	}()
	start := time.Now()
	size, err = newClient(d.addr).enumerateDiscard()
	took = time.Since(start)
	close(stop)
	<-sampled
	return
}

// --- the static baseline ----------------------------------------------------

// serveStatic is the baseline server: net/http serving one file, in a
// process of its own like the daemon.
func serveStatic(file string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr())
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
		http.ServeFile(w, r, file)
	}))
}

// staticBaseline times GET of the file from the static server, median of
// rounds.
func staticBaseline(file string, size int64, rounds int) (time.Duration, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(self, "static-server", file)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line := make([]byte, 64)
	n, err := out.Read(line)
	if err != nil {
		return 0, err
	}
	url := "http://" + strings.TrimSpace(string(line[:n])) + "/enumerate.xml"
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	var times []time.Duration
	for i := 0; i < rounds+1; i++ {
		start := time.Now()
		resp, err := hc.Get(url)
		if err != nil {
			return 0, err
		}
		got, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || got != size {
			return 0, fmt.Errorf("static server sent %d bytes of %d: %v", got, size, err)
		}
		if i > 0 { // the first read warms the page cache
			times = append(times, time.Since(start))
		}
	}
	return median(times), nil
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func percentile(sorted []time.Duration, p int) time.Duration {
	i := len(sorted) * p / 100
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}
