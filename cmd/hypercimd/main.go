// Command hypercimd is the hypercim WBEM server: CIM-XML and WS-Management
// over HTTP and HTTPS in front of the CIMOM core and its providers.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "hypercimd: the server is not built yet")
	os.Exit(1)
}
