// A Go TLS write/read loop for bench/go_bench.py, the Go twin of
// bench/tls_loop.c: in one process a crypto/tls client and server on the
// two ends of a socketpair; each iteration is one client (*Conn).Write of
// SIZE bytes and the server's (*Conn).Read calls that take them in.
//
//	go_tls_loop bench SIZE ITERS    prints "ns_per_iter N" and "tls_calls N"
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_tls_loop:", err)
		os.Exit(1)
	}
}

func conn(fd int) net.Conn {
	f := os.NewFile(uintptr(fd), "socketpair")
	c, err := net.FileConn(f)
	check(err)
	f.Close()
	return c
}

func main() {
	if len(os.Args) != 4 || os.Args[1] != "bench" {
		fmt.Fprintln(os.Stderr, "usage: go_tls_loop bench SIZE ITERS")
		os.Exit(2)
	}
	size, _ := strconv.Atoi(os.Args[2])
	iters, _ := strconv.Atoi(os.Args[3])
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	check(err)
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	check(err)
	server := tls.Server(conn(fds[0]), &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	client := tls.Client(conn(fds[1]), &tls.Config{InsecureSkipVerify: true})
	done := make(chan error)
	go func() { done <- server.Handshake() }()
	check(client.Handshake())
	check(<-done)

	msg := make([]byte, size)
	buf := make([]byte, size)
	calls := 0
	start := time.Now()
	for i := 0; i < iters; i++ {
		_, err := client.Write(msg)
		check(err)
		calls++
		for got := 0; got < size; {
			n, err := server.Read(buf[got:])
			check(err)
			got += n
			calls++
		}
	}
	el := time.Since(start)
	fmt.Printf("ns_per_iter %.1f\ntls_calls %d\n", float64(el.Nanoseconds())/float64(iters), calls)
}
