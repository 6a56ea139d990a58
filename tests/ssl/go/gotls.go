// A TLS client and server of ours in Go's standard library (crypto/tls,
// net/http, HTTP/2), for the Go backend of `loupe trace ssl`.
//
//	gotls server                  serve HTTPS on 127.0.0.1:0 (h2 and http/1.1);
//	                              prints "port N", stops when stdin closes
//	gotls get URL [h1|h2]         GET, print the status and the body
//	gotls post URL BODY [h1|h2]   POST BODY, print the status and the body
//	gotls upload URL SEED N CONNS [h1|h2]
//	                              N requests on N goroutines over at most CONNS
//	                              connections, each with its own body (body(SEED, i),
//	                              10 KiB to 1 MiB); print one line per request
//	gotls raw HOST:PORT TEXT      tls.Dial, Write TEXT, read the answer
//	                              (the handshake inside Write when TEXT is given
//	                              after "lazy:")
//	gotls stackread HOST:PORT PATH
//	                              GET PATH over HTTP/1.0, read the answer into a
//	                              buffer on a new goroutine's stack, which grows
//	                              (moves) inside Read; print what was read
//	gotls wait MODE ...           read a line from stdin first (a test starts us,
//	                              then lets us go once loupe has seen us)
//
// The bodies are made from SHA-256 so that the tests (Python) make the same
// bytes: hex digits, so that they stay readable in JSON.
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"io/ioutil"
	"math/big"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

const minBody, maxBody = 10 << 10, 1 << 20

// body is request i's body, 10 KiB to 1 MiB: a length class 10 KiB << k
// (k in 0..6), a length within it, capped at 1 MiB.  Integers only, so that
// Python makes the same bytes.
func body(seed string, i int) []byte {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s/%d/len", seed, i)))
	lo := minBody << (uint(h[0]) % 7)
	n := lo + int(binary.BigEndian.Uint32(h[1:5])%uint32(lo))
	if n > maxBody {
		n = maxBody
	}
	out := make([]byte, 0, n+64)
	for blk := 0; len(out) < n; blk++ {
		b := sha256.Sum256([]byte(fmt.Sprintf("%s/%d/%d", seed, i, blk)))
		out = append(out, hex.EncodeToString(b[:])...)
	}
	return out[:n]
}

func selfSigned() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	check(err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gotls:", err)
		os.Exit(1)
	}
}

func server() {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b, err := ioutil.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if len(b) == 0 {
			fmt.Fprintf(w, "hello from go, %s %s\n", r.Proto, r.URL.Path)
			return
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(w, "got %s %d %x\n", r.URL.Path, len(b), sum)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	srv := &http.Server{Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{selfSigned()}}}
	fmt.Printf("port %d\n", ln.Addr().(*net.TCPAddr).Port)
	go func() {
		io.Copy(ioutil.Discard, os.Stdin)
		os.Exit(0)
	}()
	check(srv.ServeTLS(ln, "", ""))
}

func client(proto string, conns int) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2:   proto != "h1",
		MaxConnsPerHost:     conns,
		MaxIdleConnsPerHost: conns,
	}
	if proto == "h1" {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

func show(resp *http.Response, err error) {
	check(err)
	defer resp.Body.Close()
	b, err := ioutil.ReadAll(resp.Body)
	check(err)
	fmt.Printf("%s %d\n%s", resp.Proto, resp.StatusCode, b)
}

func upload(url, seed string, n, conns int, proto string) {
	c := client(proto, conns)
	lines := make([]string, n)
	var wg sync.WaitGroup
	failed := false
	var mu sync.Mutex
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			b := body(seed, i)
			resp, err := c.Post(fmt.Sprintf("%s/upload/%d", url, i), "text/plain", strings.NewReader(string(b)))
			if err == nil {
				var got []byte
				got, err = ioutil.ReadAll(resp.Body)
				resp.Body.Close()
				sum := sha256.Sum256(b)
				want := fmt.Sprintf("got /upload/%d %d %x\n", i, len(b), sum)
				if err == nil && string(got) != want {
					err = fmt.Errorf("answer %q, want %q", got, want)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = true
				lines[i] = fmt.Sprintf("%d error %v", i, err)
			} else {
				lines[i] = fmt.Sprintf("%d ok %d", i, len(b))
			}
		}(i)
	}
	wg.Wait()
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
	if failed {
		os.Exit(1)
	}
}

func raw(addr, text string) {
	lazy := strings.HasPrefix(text, "lazy:")
	conf := &tls.Config{InsecureSkipVerify: true}
	var c *tls.Conn
	if lazy {
		nc, err := net.Dial("tcp", addr)
		check(err)
		c = tls.Client(nc, conf)
		text = strings.TrimPrefix(text, "lazy:")
	} else {
		var err error
		c, err = tls.Dial("tcp", addr, conf)
		check(err)
	}
	defer c.Close()
	_, err := c.Write([]byte(text))
	check(err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	check(err)
	defer resp.Body.Close()
	b, err := ioutil.ReadAll(resp.Body)
	check(err)
	fmt.Printf("%s %d\n%s", resp.Proto, resp.StatusCode, b)
}

// stackread's reader: buf stays on this goroutine's stack (it does not escape
// through (*tls.Conn).Read), and the stack is small until Read grows it.
//
//go:noinline
func readOnStack(c *tls.Conn, out chan<- []byte) {
	var buf [128]byte
	var got []byte
	for {
		n, err := c.Read(buf[:])
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	out <- got
}

func stackread(addr, path string) {
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	check(err)
	defer c.Close()
	_, err = fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path)
	check(err)
	out := make(chan []byte)
	go readOnStack(c, out)
	os.Stdout.Write(<-out)
}

func main() {
	a := os.Args[1:]
	if len(a) > 0 && a[0] == "wait" {
		bufio.NewReader(os.Stdin).ReadString('\n')
		a = a[1:]
	}
	arg := func(i int, def string) string {
		if i < len(a) {
			return a[i]
		}
		return def
	}
	if len(a) == 0 {
		fmt.Fprintln(os.Stderr, "usage: gotls server|get|post|upload|raw ...")
		os.Exit(2)
	}
	switch a[0] {
	case "server":
		server()
	case "get":
		show(client(arg(2, "h2"), 1).Get(arg(1, "")))
	case "post":
		show(client(arg(3, "h2"), 1).Post(arg(1, ""), "text/plain", strings.NewReader(arg(2, ""))))
	case "upload":
		n, _ := strconv.Atoi(arg(3, "200"))
		conns, _ := strconv.Atoi(arg(4, "4"))
		upload(arg(1, ""), arg(2, "seed"), n, conns, arg(5, "h1"))
	case "raw":
		raw(arg(1, ""), arg(2, ""))
	case "stackread":
		stackread(arg(1, ""), arg(2, "/"))
	default:
		fmt.Fprintln(os.Stderr, "gotls: unknown mode", a[0])
		os.Exit(2)
	}
}
