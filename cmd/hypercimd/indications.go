package main

import (
	"time"

	"github.com/hypercim/hypercim/wbem"
	"github.com/hypercim/hypercim/wbem/cimxml/export"
)

// enableIndications gives the core's indication service its CIM-XML
// exporter, so that clients can subscribe CIM_ListenerDestinationCIMXML
// listeners in root/interop (docs/indications.md). Listeners reached over
// HTTPS are verified against the system's certificate roots. Call it once
// the core exists, before the providers are registered.
func enableIndications(srv *wbem.Server) {
	client, err := export.NewClient(export.Config{Timeout: 30 * time.Second, UserAgent: "hypercimd/" + productVersion()})
	if err != nil {
		panic(err) // the configuration above is always valid
	}
	srv.Indications().SetExporter(wbem.ProtocolCIMXML, client)
}
