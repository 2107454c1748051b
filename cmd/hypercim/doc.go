// Command hypercim is the hypercim command-line tool, for the work around
// the server rather than through it:
//
//	hypercim mof check|compile|export  check MOF files, compile them into a data directory's repository, or export it (docs/mof.md)
//	hypercim vmdk create|info|...      create, inspect, check, convert and snapshot VMDK images (docs/vmdk.md)
//	hypercim vm run                    run one virtual machine in the foreground (docs/hypervisor.md)
//	hypercim user add|passwd|...       manage the users, rights and client certificates of a data directory (docs/auth.md)
//	hypercim listen                    receive CIM-XML indications and print them as MOF (docs/indications.md)
//
// main.go dispatches each subcommand to a function in its own file
// (mof.go, vmdk.go, vm.go, user.go, listen.go). Every subcommand takes
// --help; errors go to standard error with what to do next, and the exit
// status is 0 on success and 2 for a usage error (each subcommand's help
// says what else it returns). The
// commands that change a data directory work while hypercimd runs on it,
// except those that need its repository exclusively.
package main
