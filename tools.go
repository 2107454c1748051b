//go:build tools

// Package tools pins the module's chosen dependencies while the packages
// that use them are being written; `go mod tidy` keeps what is listed here.
package tools

import (
	_ "github.com/beevik/etree"
	_ "github.com/digitalocean/go-libvirt"
	_ "github.com/gorilla/mux"
	_ "github.com/sirupsen/logrus"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/crypto/bcrypt"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
	_ "libvirt.org/go/libvirtxml"
)
