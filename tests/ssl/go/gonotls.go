// A Go program with no crypto/tls linked in: loupe must not probe it.  It
// fetches a URL over plain HTTP/1.1 with net (no net/http: that links TLS).
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gonotls HOST:PORT PATH")
		os.Exit(2)
	}
	c, err := net.Dial("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "gonotls:", err)
		os.Exit(1)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", os.Args[2])
	line, _ := bufio.NewReader(c).ReadString('\n')
	fmt.Print(line)
	io.Copy(io.Discard, c)
}
