package main

import (
	"bufio"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/hypercim/hypercim/wbem/auth"
)

// userDefaultDataDir is the data directory `make run` uses.
const userDefaultDataDir = "./var/hypercim"

// errUserHelp ends a user subcommand successfully after --help.
var errUserHelp = errors.New("help shown")

// userCommand is one "hypercim user" subcommand.
type userCommand struct {
	args    string // positional arguments, for the usage line
	summary string
	nargs   int
	run     func(env *cliEnv, s *auth.Store, f *userFlags, args []string) error
}

func userCommands() map[string]userCommand {
	return map[string]userCommand{
		"add":    {"NAME [--admin] [--digest]", "create a user; the password is read from standard input", 1, runUserAdd},
		"del":    {"NAME", "delete a user", 1, runUserDel},
		"list":   {"", "list the users with their rights", 0, runUserList},
		"passwd": {"NAME", "change a user's password (read from standard input)", 1, runUserPasswd},
		"grant":  {"NAME NAMESPACE read|write", "give a user a right on a namespace (* for every namespace)", 3, runUserGrant},
		"revoke": {"NAME NAMESPACE", "take a user's right on a namespace away", 2, runUserRevoke},
		"admin":  {"NAME on|off", "give or take away a user's admin rights (every right everywhere)", 2, runUserAdmin},
		"cert":   {"add|del NAME sha256:FINGERPRINT|subject:DN|--file CERT.pem", "map a TLS client certificate to a user, or remove the mapping", 2, runUserCert},
	}
}

// userTable is the table of the user subcommands.
func userTable() *commandTable {
	t := &commandTable{
		name:      "hypercim user",
		synopsis:  "hypercim user <subcommand> [arguments] [--data-dir DIR]",
		heading:   "subcommands",
		width:     7,
		helpShown: errUserHelp,
		cmds:      map[string]subcommand{},
		footer: `
The users live in DIR/users.json (bcrypt hashes, mode 0600). A running
hypercimd notices changes within a second: no restart is needed.
Run 'hypercim user <subcommand> --help' for its arguments; docs/auth.md
describes users, rights and client certificates.
`,
	}
	for name, cmd := range userCommands() {
		t.cmds[name] = subcommand{summary: cmd.summary, run: func(env *cliEnv, args []string) error {
			return runUserCommand(env, name, cmd, args)
		}}
	}
	return t
}

// runUser dispatches "hypercim user ...". Exit status: 0 on success, 1 on
// an error, 2 on a usage error.
func runUser(env *cliEnv, args []string) error {
	if len(args) > 0 && !isHelp(args[0]) {
		args = subcommandFirst(args)
	}
	return userTable().dispatch(env, args)
}

// runUserCommand parses the options and arguments of the user subcommand
// name and runs it on the store of the data directory.
func runUserCommand(env *cliEnv, name string, cmd userCommand, args []string) error {
	f := newUserFlags(name, cmd)
	pos, err := f.parse(env, args)
	if err != nil {
		return err
	}
	if len(pos) != cmd.nargs && !(name == "cert" && len(pos) == 3) {
		return f.usageError("expected %s", strings.TrimSpace(cmd.args))
	}
	s, err := auth.Open(f.dataDir, nil)
	if err != nil {
		return err
	}
	return cmd.run(env, s, f, pos)
}

// subcommandFirst moves a --data-dir given before the subcommand ("user
// --data-dir DIR add ...") after it.
func subcommandFirst(args []string) []string {
	var lead []string
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		n := 1
		if (args[0] == "--data-dir" || args[0] == "-data-dir") && len(args) > 1 {
			n = 2
		}
		lead, args = append(lead, args[:n]...), args[n:]
	}
	if len(args) == 0 {
		return lead
	}
	return append(append([]string{args[0]}, args[1:]...), lead...)
}

// userFlags are the options of the user subcommands.
type userFlags struct {
	*flag.FlagSet
	name    string
	cmd     userCommand
	dataDir string
	admin   bool
	digest  bool
	file    string
}

func newUserFlags(name string, cmd userCommand) *userFlags {
	f := &userFlags{FlagSet: newFlagSet("hypercim user " + name), name: name, cmd: cmd}
	f.StringVar(&f.dataDir, "data-dir", userDefaultDataDir, "data directory holding the users file (`DIR`)")
	switch name {
	case "add":
		f.BoolVar(&f.admin, "admin", false, "give the user every right in every namespace")
		f.BoolVar(&f.digest, "digest", false, "also store the digests HTTP Digest authentication needs (for WS-Man clients that use Digest; see docs/auth.md)")
	case "cert":
		f.StringVar(&f.file, "file", "", "take the SHA-256 fingerprint of the PEM certificate in `FILE`")
	}
	return f
}

// parse accepts options before, between and after the arguments.
func (f *userFlags) parse(env *cliEnv, args []string) ([]string, error) {
	return parseCommandArgs(env, f.FlagSet, f, errUserHelp, args)
}

func (f *userFlags) printUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: hypercim user %s %s [--data-dir DIR]\n\n%s\n", f.name, f.cmd.args, f.cmd.summary)
	fmt.Fprintf(w, "\noptions:\n%s", flagDefaults(f.FlagSet))
}

func (f *userFlags) usageError(format string, args ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf("hypercim user %s: %s\nusage: hypercim user %s %s [--data-dir DIR]",
		f.name, fmt.Sprintf(format, args...), f.name, f.cmd.args)}
}

// readPassword reads a new password: twice without echo from a terminal,
// otherwise the first line of standard input.
func readPassword(env *cliEnv) (string, error) {
	if in, ok := env.stdin.(*os.File); ok && term.IsTerminal(int(in.Fd())) {
		fmt.Fprint(env.stderr, "Password: ")
		first, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(env.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		fmt.Fprint(env.stderr, "Repeat password: ")
		second, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(env.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		if string(first) != string(second) {
			return "", errors.New("the passwords differ")
		}
		return string(first), nil
	}
	line, err := bufio.NewReader(env.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input (pipe it in, or run from a terminal to be asked)")
	}
	return line, nil
}

// readNewPassword reads a password with readPassword and applies the
// policy for passwords people choose (auth.CheckNewPassword).
func readNewPassword(env *cliEnv) (string, error) {
	password, err := readPassword(env)
	if err != nil {
		return "", err
	}
	return password, auth.CheckNewPassword(password)
}

func runUserAdd(env *cliEnv, s *auth.Store, f *userFlags, args []string) error {
	if !auth.ValidUserName(args[0]) {
		return fmt.Errorf("invalid user name %q: use 1 to 64 letters, digits, '.', '_', '-' or '@'", args[0])
	}
	if _, exists := s.User(args[0]); exists {
		return fmt.Errorf("user %s already exists (use 'hypercim user passwd' to change the password)", args[0])
	}
	password, err := readNewPassword(env)
	if err != nil {
		return err
	}
	if err := s.AddUser(args[0], password, auth.UserOptions{Admin: f.admin, Digest: f.digest}); err != nil {
		return err
	}
	hint := "; give rights with 'hypercim user grant " + args[0] + " NAMESPACE read|write'"
	if f.admin {
		hint = " with admin rights"
	}
	fmt.Fprintf(env.stdout, "user %s created%s\n", args[0], hint)
	return nil
}

func runUserDel(env *cliEnv, s *auth.Store, f *userFlags, args []string) error {
	if err := s.DeleteUser(args[0]); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "user %s deleted\n", args[0])
	return nil
}

func runUserPasswd(env *cliEnv, s *auth.Store, f *userFlags, args []string) error {
	if _, ok := s.User(args[0]); !ok {
		return fmt.Errorf("%w: %s", auth.ErrNoSuchUser, args[0])
	}
	password, err := readNewPassword(env)
	if err != nil {
		return err
	}
	if err := s.SetPassword(args[0], password); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "password of %s changed\n", args[0])
	return nil
}

func runUserList(env *cliEnv, s *auth.Store, f *userFlags, args []string) error {
	users := s.Users()
	if len(users) == 0 {
		fmt.Fprintln(env.stdout, "no users (hypercimd creates admin on its first start; or run 'hypercim user add NAME --admin')")
		return nil
	}
	w := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tADMIN\tDIGEST\tRIGHTS\tCERTIFICATES")
	for _, u := range users {
		rights := "-"
		if u.Admin {
			rights = "all"
		} else if len(u.Rights) > 0 {
			var parts []string
			for ns, r := range u.Rights {
				parts = append(parts, ns+"="+r.String())
			}
			sort.Strings(parts)
			rights = strings.Join(parts, ",")
		}
		certs := "-"
		if len(u.Certificates) > 0 {
			certs = strings.Join(u.Certificates, ",")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", u.Name, yesNo(u.Admin), yesNo(u.Digest), rights, certs)
	}
	return w.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func runUserGrant(env *cliEnv, s *auth.Store, f *userFlags, args []string) error {
	r, err := auth.ParseRight(args[2])
	if err != nil {
		return f.usageError("%v", err)
	}
	if err := s.Grant(args[0], args[1], r); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "user %s may now %s %s\n", args[0], r, args[1])
	return nil
}

func runUserRevoke(env *cliEnv, s *auth.Store, f *userFlags, args []string) error {
	if err := s.Revoke(args[0], args[1]); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "user %s has no right on %s any more\n", args[0], args[1])
	return nil
}

func runUserAdmin(env *cliEnv, s *auth.Store, f *userFlags, args []string) error {
	var admin bool
	switch strings.ToLower(args[1]) {
	case "on", "yes", "true":
		admin = true
	case "off", "no", "false":
	default:
		return f.usageError("expected on or off, not %q", args[1])
	}
	if err := s.SetAdmin(args[0], admin); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "user %s is %san admin\n", args[0], map[bool]string{true: "", false: "not "}[admin])
	return nil
}

func runUserCert(env *cliEnv, s *auth.Store, f *userFlags, args []string) error {
	op, name := args[0], args[1]
	var match string
	switch {
	case f.file != "" && len(args) == 2:
		data, err := os.ReadFile(f.file)
		if err != nil {
			return err
		}
		block, _ := pem.Decode(data)
		if block == nil || block.Type != "CERTIFICATE" {
			return fmt.Errorf("%s holds no PEM certificate", f.file)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Errorf("%s: %w", f.file, err)
		}
		match = auth.CertificateFingerprint(cert)
	case f.file == "" && len(args) == 3:
		match = args[2]
	default:
		return f.usageError("give the certificate as sha256:FINGERPRINT, subject:DN or --file CERT.pem")
	}
	switch op {
	case "add":
		if err := s.AddCertificate(name, match); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "certificate %s mapped to user %s\n", match, name)
	case "del":
		if err := s.RemoveCertificate(name, match); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "certificate %s no longer mapped to user %s\n", match, name)
	default:
		return f.usageError("expected add or del, not %q", op)
	}
	return nil
}
