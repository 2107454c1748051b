module github.com/hypercim/hypercim

go 1.26.8

require (
	github.com/beevik/etree v1.8.1
	github.com/digitalocean/go-libvirt v0.0.0-20261013170128-efbbdf578ac8
	github.com/gorilla/mux v1.8.1
	github.com/klauspost/compress v1.20.4
	github.com/sirupsen/logrus v1.10.2
	go.etcd.io/bbolt v1.5.0
	golang.org/x/crypto v0.59.0
	golang.org/x/sys v0.50.0
	golang.org/x/term v0.48.0
	libvirt.org/go/libvirtxml v1.12008.0
)
