package main

import (
	"bufio"
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
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hypercim/hypercim/conformance/internal/daemon"
	"github.com/hypercim/hypercim/wbem/auth"
)

const (
	user, password = "bench", "bench-password"
	namespace      = "root/bench"
)

func main() {
	if len(os.Args) == 4 && os.Args[1] == "static-server" {
		spin, err := time.ParseDuration(os.Args[3])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		serveStatic(os.Args[2], spin)
		return
	}
	var o options
	flag.StringVar(&o.daemon, "hypercimd", "", "hypercimd binary to measure")
	flag.IntVar(&o.count, "count", 100000, "instances per EnumerateInstances")
	flag.IntVar(&o.payload, "payload", 520, "Payload length of each instance (520 gives about 1 KB of CIM-XML)")
	flag.IntVar(&o.rounds, "rounds", 15, "EnumerateInstances rounds (the median is reported)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long the GetInstance clients run")
	flag.IntVar(&o.clients, "clients", 16, "concurrent GetInstance clients")
	flag.IntVar(&o.stream, "stream", 1000000, "instances streamed for the memory measurement")
	sources := flag.String("sources", "gen,prepared", "instance sources to measure EnumerateInstances with (GetInstance: the first): gen, prepared")
	flag.Parse()
	o.sources = strings.Split(*sources, ",")
	if o.daemon == "" {
		fmt.Fprintln(os.Stderr, "usage: bench -hypercimd PATH")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	daemon                          string
	count, payload, rounds, clients int
	stream                          int
	duration                        time.Duration
	sources                         []string
}

func run(o options) error {
	for _, tool := range []string{"curl", "wrk"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed (scripts/bench.d/50-cimxml.sh installs it)", tool)
		}
	}
	tmp, err := os.MkdirTemp("", "hypercim-cimxml-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// Other work on the machine shows in the times (less in the CPU
	// seconds per request): say how busy it was.
	fmt.Printf("%d CPUs, load average %s before\n", runtime.NumCPU(), loadAverage())
	defer func() { fmt.Printf("load average %s after\n", loadAverage()) }()
	var first []byte
	var static *staticServer
	defer func() {
		if static != nil {
			static.stop()
		}
	}()
	var pairs []pairing
	for i, source := range o.sources {
		d, err := startDaemon(o.daemon, filepath.Join(tmp, "d-"+source), o.count, o.payload, source == "prepared")
		if err != nil {
			return err
		}
		body, err := newClient(d.addr).enumerate()
		if err == nil && bytes.Count(body, []byte("<VALUE.NAMEDINSTANCE>")) != o.count {
			err = fmt.Errorf("EnumerateInstances returned %d instances, want %d", bytes.Count(body, []byte("<VALUE.NAMEDINSTANCE>")), o.count)
		}
		if err == nil && first != nil && len(body) != len(first) {
			err = fmt.Errorf("the %s source gives %d bytes, the %s source %d", source, len(body), o.sources[0], len(first))
		}
		if err == nil && i == 0 {
			// The baseline serves the same bytes from a file.
			first = body
			file := filepath.Join(tmp, "enumerate.xml")
			if err = os.WriteFile(file, first, 0o600); err == nil {
				static, err = startStatic(file, 0)
			}
		}
		var pr pairing
		if err == nil {
			pr, err = curlPaired([]target{
				{pid: d.Pid(), method: "POST", url: "http://" + d.addr + "/cimom", size: int64(len(body))},
				{pid: static.cmd.Process.Pid, method: "GET", url: static.url, size: int64(len(body))},
			}, o.rounds)
			pr.source = source
		}
		if err == nil && i == 0 {
			err = getInstanceLoads(d, o, source)
		}
		d.stop()
		if err != nil {
			return err
		}
		pairs = append(pairs, pr)
	}

	mb := float64(len(first)) / 1e6
	fmt.Printf("EnumerateInstances, %d instances of %.0f bytes (%.1f MB), keep-alive, curl alternating between hypercimd and the static file, median of %d rounds (min)\n",
		o.count, float64(len(first))/float64(o.count), mb, o.rounds)
	fmt.Printf("  %-24s %7s %17s %9s %11s\n", "", "s", "instances/s", "MB/s", "server CPU")
	for _, pr := range pairs {
		for i, t := range pr.timings {
			name := "hypercimd, " + pr.source
			if i == 1 {
				name = "static file (net/http)"
			}
			fmt.Printf("  %-24s %7.3f (%5.3f) %9.0f %9.0f %9.3f s\n", name, t.median.Seconds(), t.min.Seconds(),
				float64(o.count)/t.median.Seconds(), mb/t.median.Seconds(), t.serverCPU.Seconds())
		}
		// The time target is the server's own path (the prepared
		// source); with the generating source the test provider's work
		// dominates, and the target is the rate.
		target := "target time < 2"
		if pr.source != "prepared" {
			target = "target 200000 instances/s (provider-bound)"
		}
		fmt.Printf("  ratio %-19s %5.2f time (median of the rounds' ratios), %5.2f server CPU, curl %.3f s CPU a request   %s\n",
			pr.source+"/static", pr.ratio, pr.timings[0].serverCPU.Seconds()/pr.timings[1].serverCPU.Seconds(), pr.clientCPU.Seconds(), target)
	}

	d2, err := startDaemon(o.daemon, filepath.Join(tmp, "d-stream"), o.stream, o.payload, false)
	if err != nil {
		return err
	}
	defer d2.stop()
	base, peak, n, took, err := streamRSS(d2, o.stream)
	if err != nil {
		return err
	}
	fmt.Printf("Streaming %d generated instances (%.2f GB) in %.1f s\n", o.stream, float64(n)/1e9, took.Seconds())
	fmt.Printf("  hypercimd RSS before %5.1f MiB, peak %5.1f MiB, growth %5.1f MiB   target growth < 100 MiB\n",
		float64(base)/(1<<20), float64(peak)/(1<<20), float64(peak-base)/(1<<20))
	return nil
}

// --- the daemon -----------------------------------------------------------

// benchDaemon is a hypercimd serving the test provider's T_Gen instances
// in namespace, with the bench user.
type benchDaemon struct {
	*daemon.Daemon
	addr string
}

func startDaemon(bin, dir string, count, payload int, prepared bool) (*benchDaemon, error) {
	users, err := auth.Open(dir, nil)
	if err != nil {
		return nil, err
	}
	if err := users.AddUser(user, password, auth.UserOptions{Admin: true}); err != nil {
		return nil, err
	}
	addr, err := daemon.FreeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"--hypervisor", "none",
		"--test-provider", namespace, "--test-provider-gen", strconv.Itoa(count), "--test-provider-payload", strconv.Itoa(payload)}
	if prepared {
		args = append(args, "--test-provider-prepared")
	}
	d, err := daemon.Start(daemon.Options{Hypercimd: bin, DataDir: dir, CIMXMLHTTP: addr, Args: args})
	if err != nil {
		return nil, err
	}
	return &benchDaemon{Daemon: d, addr: addr}, nil
}

func (d *benchDaemon) stop() {
	if err := d.Stop(30 * time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
	}
}

// rss returns the resident set size of the daemon.
func (d *benchDaemon) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.Pid()))
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

// loadAverage returns the 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// cpuTime returns the user and system CPU time process pid has used.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat")
	}
	// Clock ticks are 1/100 s on Linux (USER_HZ).
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// --- requests ---------------------------------------------------------------

func body(method, params string) string {
	return `<?xml version="1.0" encoding="utf-8" ?><CIM CIMVERSION="2.0" DTDVERSION="2.0"><MESSAGE ID="1" PROTOCOLVERSION="1.0"><SIMPLEREQ><IMETHODCALL NAME="` + method +
		`"><LOCALNAMESPACEPATH><NAMESPACE NAME="root"/><NAMESPACE NAME="bench"/></LOCALNAMESPACEPATH>` + params + `</IMETHODCALL></SIMPLEREQ></MESSAGE></CIM>`
}

const enumParams = `<IPARAMVALUE NAME="ClassName"><CLASSNAME NAME="T_Gen"/></IPARAMVALUE><IPARAMVALUE NAME="LocalOnly"><VALUE>FALSE</VALUE></IPARAMVALUE>`

// getInstanceBody is the GetInstance request of instance id.
func getInstanceBody(id string) string {
	return body("GetInstance", `<IPARAMVALUE NAME="InstanceName"><INSTANCENAME CLASSNAME="T_Gen"><KEYBINDING NAME="Id"><KEYVALUE VALUETYPE="string">`+id+
		`</KEYVALUE></KEYBINDING></INSTANCENAME></IPARAMVALUE><IPARAMVALUE NAME="LocalOnly"><VALUE>FALSE</VALUE></IPARAMVALUE>`)
}

// cimHeaders are the headers of a CIM-XML request of method.
func cimHeaders(method string) map[string]string {
	return map[string]string{
		"Content-Type": `application/xml; charset="utf-8"`,
		"CIMOperation": "MethodCall",
		"CIMMethod":    method,
		"CIMObject":    "root%2Fbench",
	}
}

// --- the Go client ----------------------------------------------------------

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

func (c *client) post(method, body string) (*http.Response, error) {
	req, err := http.NewRequest("POST", c.url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(user, password)
	for k, v := range cimHeaders(method) {
		req.Header.Set(k, v)
	}
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

func (c *client) enumerate() ([]byte, error) {
	resp, err := c.post("EnumerateInstances", body("EnumerateInstances", enumParams))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// --- EnumerateInstances with curl ---------------------------------------------

// timing is what one server took for the EnumerateInstances rounds.
type timing struct {
	median, min time.Duration
	serverCPU   time.Duration // per request
}

// target is a server curl requests the enumeration from: POST of the
// EnumerateInstances request, or GET of the static file.
type target struct {
	pid         int
	method, url string
	size        int64
}

// pairing is what curlPaired measured for one instance source against
// the static file.
type pairing struct {
	source    string
	timings   []timing // hypercimd, then the static file
	ratio     float64  // median over the rounds of hypercimd's time / the file's
	clientCPU time.Duration
}

// curlPaired sends rounds+1 requests to each target in turn from one curl
// process, which keeps one keep-alive connection to each: round r asks
// every target once, back to back, so that a change in the machine's load
// weighs on both alike. The first round warms up. It returns the median
// and fastest time of each target, the CPU time each server spent a
// request, and the median of the rounds' ratios of the first target's time
// to the second's.
func curlPaired(targets []target, rounds int) (pairing, error) {
	var args []string
	for i := 0; i <= rounds; i++ {
		for _, tg := range targets {
			if len(args) > 0 {
				args = append(args, "--next")
			}
			args = append(args, "-s", "-S", "-o", "/dev/null", "-w", "%{time_total} %{size_download} %{http_code}\n")
			if tg.method == "POST" {
				args = append(args, "-u", user+":"+password, "--data-binary", body("EnumerateInstances", enumParams))
				for k, v := range cimHeaders("EnumerateInstances") {
					args = append(args, "-H", k+": "+v)
				}
			}
			args = append(args, tg.url)
		}
	}
	cpu0 := make([]time.Duration, len(targets))
	for i, tg := range targets {
		c, err := cpuTime(tg.pid)
		if err != nil {
			return pairing{}, err
		}
		cpu0[i] = c
	}
	cmd := exec.Command("curl", args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return pairing{}, fmt.Errorf("curl: %w", err)
	}
	times := make([][]time.Duration, len(targets))
	sc := bufio.NewScanner(bytes.NewReader(out))
	for n := 0; sc.Scan(); n++ {
		tg := targets[n%len(targets)]
		var secs float64
		var size int64
		var code int
		if _, err := fmt.Sscan(sc.Text(), &secs, &size, &code); err != nil || code != 200 || size != tg.size {
			return pairing{}, fmt.Errorf("curl: answer %q from %s, want HTTP 200 with %d bytes", sc.Text(), tg.url, tg.size)
		}
		times[n%len(targets)] = append(times[n%len(targets)], time.Duration(secs*float64(time.Second)))
	}
	pr := pairing{clientCPU: (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()) / time.Duration(len(targets)*(rounds+1))}
	for i, tg := range targets {
		if len(times[i]) != rounds+1 {
			return pairing{}, fmt.Errorf("curl made %d requests to %s of %d", len(times[i]), tg.url, rounds+1)
		}
		cpu1, err := cpuTime(tg.pid)
		if err != nil {
			return pairing{}, err
		}
		sorted := append([]time.Duration(nil), times[i][1:]...) // the first round warms up
		sort.Slice(sorted, func(a, b int) bool { return sorted[a] < sorted[b] })
		pr.timings = append(pr.timings, timing{median: sorted[len(sorted)/2], min: sorted[0], serverCPU: (cpu1 - cpu0[i]) / time.Duration(rounds+1)})
	}
	var ratios []float64
	for r := 1; r <= rounds; r++ {
		ratios = append(ratios, times[0][r].Seconds()/times[1][r].Seconds())
	}
	sort.Float64s(ratios)
	pr.ratio = ratios[len(ratios)/2]
	return pr, nil
}

// --- GetInstance ----------------------------------------------------------

// wrkScript posts GetInstance requests of random instances and prints one
// RESULT line; its response callback counts wrong answers.
const wrkScript = `
local count = tonumber(os.getenv("BENCH_COUNT"))
wrk.method = "POST"
wrk.headers["Content-Type"] = 'application/xml; charset="utf-8"'
wrk.headers["CIMOperation"] = "MethodCall"
wrk.headers["CIMMethod"] = "GetInstance"
wrk.headers["CIMObject"] = "root%2Fbench"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
local head, tail = os.getenv("BENCH_HEAD"), os.getenv("BENCH_TAIL")
local think = tonumber(os.getenv("BENCH_THINK_MS"))
if think > 0 then delay = function() return think end end
bad = 0
local threads = {}
setup = function(thread) table.insert(threads, thread) end
request = function()
  return wrk.format(nil, nil, nil, head .. string.format("g%07d", math.random(0, count - 1)) .. tail)
end
response = function(status, headers, body)
  if status ~= 200 or not string.find(body, "<INSTANCE CLASSNAME=", 1, true) then bad = bad + 1 end
end
done = function(summary, latency, requests)
  local wrong = 0
  for _, t in ipairs(threads) do wrong = wrong + t:get("bad") end
  io.write(string.format("RESULT %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, wrong))
end
`

// getInstanceLoads measures GetInstance under o.clients concurrent
// keep-alive clients, with wrk against hypercimd and against two
// baselines in processes of their own (net/http serving the same answer
// from a file, without and with handlerSpin of CPU per request), then with
// Go's client. The "gen" source keeps the daemon's heap
// small; "prepared" holds all instances in memory, whose garbage
// collection shows in the tail latency.
func getInstanceLoads(d *benchDaemon, o options, source string) error {
	dir, err := os.MkdirTemp("", "hypercim-wrk-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "getinstance.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o600); err != nil {
		return err
	}
	head, tail, _ := strings.Cut(getInstanceBody("\x00"), "\x00")
	// One request first: the user store remembers the password check.
	// Its answer is what the baseline serves.
	resp, err := newClient(d.addr).post("GetInstance", getInstanceBody("g0000000"))
	if err != nil {
		return err
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	file := filepath.Join(dir, "getinstance.xml")
	if err := os.WriteFile(file, answer, 0o600); err != nil {
		return err
	}
	static, err := startStatic(file, 0)
	if err != nil {
		return err
	}
	defer static.stop()
	spinning, err := startStatic(file, handlerSpin)
	if err != nil {
		return err
	}
	defer spinning.stop()

	fmt.Printf("GetInstance, %d concurrent keep-alive clients, %v each, instance source %s; baselines: net/http serving the %d-byte answer from a file, without and with %v of CPU per request\n",
		o.clients, o.duration, source, len(answer), handlerSpin)
	servers := []wrkTarget{
		{label: "hypercimd", pid: d.Pid(), url: "http://" + d.addr + "/cimom", target: "   target p99 < 1ms"},
		{label: "static file", pid: static.cmd.Process.Pid, url: static.url},
		{label: "10 µs handler", pid: spinning.cmd.Process.Pid, url: spinning.url},
	}
	for _, think := range []int{0, 1} {
		var results []wrkResult
		for _, t := range servers {
			r, err := wrkLoad(t, o, script, head, tail, think)
			if err != nil {
				return err
			}
			results = append(results, r)
		}
		h := results[0]
		for i, b := range results[1:] {
			fmt.Printf("  %-28s %5.2f requests/s, %5.2f p50, %5.2f p99, %5.2f server CPU\n", "ratio hypercimd/"+servers[i+1].label,
				h.rate/b.rate, h.p50.Seconds()/b.p50.Seconds(), h.p99.Seconds()/b.p99.Seconds(), h.serverCPU.Seconds()/b.serverCPU.Seconds())
		}
	}

	cpu0, _ := cpuTime(d.Pid())
	lat, n, nerr := goGetInstanceLoad(newClient(d.addr), o.count, o.clients, o.duration)
	cpu1, _ := cpuTime(d.Pid())
	if len(lat) == 0 {
		return errors.New("no GetInstance completed")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("  %-28s %8.0f requests/s   p50 %v   p90 %v   p99 %v   max %v   errors %d\n", "hypercimd, Go net/http client",
		float64(n)/o.duration.Seconds(), percentile(lat, 50).Round(time.Microsecond), percentile(lat, 90).Round(time.Microsecond),
		percentile(lat, 99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond), nerr)
	fmt.Printf("  %-28s server CPU %.1f µs/request\n", "", float64((cpu1-cpu0).Microseconds())/float64(n))
	return nil
}

// wrkTarget is a server wrk loads: its process (for the CPU time), URL
// and the target its line names.
type wrkTarget struct {
	label, url, target string
	pid                int
}

// wrkResult is what one wrk run measured.
type wrkResult struct {
	rate      float64 // requests/s
	p50, p99  time.Duration
	serverCPU time.Duration // per request
}

// wrkLoad runs wrk with o.clients connections against t, each waiting
// thinkMS milliseconds between its requests (0: as fast as the server
// answers), and prints the latency and the CPU time per request.
func wrkLoad(t wrkTarget, o options, script, head, tail string, thinkMS int) (wrkResult, error) {
	threads := min(2, o.clients)
	cmd := exec.Command("wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(o.clients), "-d", o.duration.String(), "-s", script, t.url)
	cmd.Env = append(os.Environ(), "BENCH_COUNT="+strconv.Itoa(o.count), "BENCH_HEAD="+head, "BENCH_TAIL="+tail,
		"BENCH_AUTH=Basic "+basicAuth(user, password), "BENCH_THINK_MS="+strconv.Itoa(thinkMS))
	cpu0, err := cpuTime(t.pid)
	if err != nil {
		return wrkResult{}, err
	}
	out, err := cmd.Output()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w", err)
	}
	cpu1, err := cpuTime(t.pid)
	if err != nil {
		return wrkResult{}, err
	}
	i := bytes.Index(out, []byte("RESULT "))
	var reqs, durUS, p50, p90, p99, max, errs, wrong int64
	if i < 0 {
		return wrkResult{}, fmt.Errorf("wrk printed no result:\n%s", out)
	}
	if _, err := fmt.Sscan(string(out[i+len("RESULT "):]), &reqs, &durUS, &p50, &p90, &p99, &max, &errs, &wrong); err != nil || reqs == 0 {
		return wrkResult{}, fmt.Errorf("wrk printed %q", out[i:])
	}
	if errs+wrong > 0 {
		return wrkResult{}, fmt.Errorf("%s: %d of %d GetInstance requests failed or got a wrong answer", t.label, errs+wrong, reqs)
	}
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	wrkCPU := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	label := t.label + ", wrk, no pause"
	if thinkMS > 0 {
		label = fmt.Sprintf("%s, wrk, %d ms pauses", t.label, thinkMS)
	}
	r := wrkResult{rate: float64(reqs) / (float64(durUS) / 1e6), p50: us(p50), p99: us(p99), serverCPU: (cpu1 - cpu0) / time.Duration(reqs)}
	fmt.Printf("  %-28s %8.0f requests/s   p50 %v   p90 %v   p99 %v   max %v%s\n", label, r.rate, us(p50), us(p90), us(p99), us(max), t.target)
	fmt.Printf("  %-28s server CPU %.1f µs/request, wrk CPU %.1f µs/request\n", "",
		float64(r.serverCPU.Nanoseconds())/1e3, float64(wrkCPU.Microseconds())/float64(reqs))
	return r, nil
}

func basicAuth(user, password string) string {
	req, _ := http.NewRequest("GET", "http://x/", nil)
	req.SetBasicAuth(user, password)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// goGetInstanceLoad runs clients goroutines doing GetInstance of random
// instances for duration.
func goGetInstanceLoad(c *client, count, clients int, duration time.Duration) (lat []time.Duration, reqs, errs int) {
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
				start := time.Now()
				resp, err := c.post("GetInstance", getInstanceBody(id))
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

// --- memory while streaming ---------------------------------------------------

// streamRSS streams n instances and samples the daemon's RSS meanwhile.
func streamRSS(d *benchDaemon, n int) (base, peak, size int64, took time.Duration, err error) {
	time.Sleep(500 * time.Millisecond) // let the runtime settle
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
	var resp *http.Response
	resp, err = newClient(d.addr).post("EnumerateInstances", body("EnumerateInstances", enumParams))
	if err == nil {
		size, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	took = time.Since(start)
	close(stop)
	<-sampled
	return
}

// --- the static baseline ----------------------------------------------------

// handlerSpin is the CPU time the second GetInstance baseline spends on
// each request, about what hypercimd's handler costs beyond net/http
// (BenchmarkGetInstanceServeHTTP): it shows the latency a net/http
// handler of that cost gets from this machine.
const handlerSpin = 10 * time.Microsecond

// serveStatic is the baseline server: net/http serving one file, in a
// process of its own like the daemon. With spin, each request's body is
// read and spin of CPU time spent before the file is served.
func serveStatic(file string, spin time.Duration) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr())
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if spin > 0 {
			io.Copy(io.Discard, r.Body)
			for start := time.Now(); time.Since(start) < spin; {
			}
		}
		w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
		http.ServeFile(w, r, file)
	}))
}

// staticServer is the baseline server process.
type staticServer struct {
	cmd *exec.Cmd
	url string
}

// startStatic starts the baseline server on file (see serveStatic).
func startStatic(file string, spin time.Duration) (*staticServer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "static-server", file, spin.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	return &staticServer{cmd: cmd, url: "http://" + strings.TrimSpace(line) + "/" + filepath.Base(file)}, nil
}

func (s *staticServer) stop() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

func percentile(sorted []time.Duration, p int) time.Duration {
	i := len(sorted) * p / 100
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}
