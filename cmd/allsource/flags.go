package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/allsource/allsource/internal/suggest"
)

// newFlags returns the flag set of the command name ("import", "admin key
// create"). Its help is intro followed by the command's own flags; parse
// prints it for -h/--help.
func newFlags(name, intro string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprint(w, strings.TrimRight(intro, "\n")+"\n")
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprint(w, "\nFlags:\n")
			printFlags(w, fs)
		}
	}
	return fs
}

// printFlags lists the flags of fs the way they are typed: --name, the
// kind of value, the default when it is not the zero value.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if kind != "" {
			line += " " + kind
		}
		fmt.Fprintln(w, line)
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "0s" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "        %s\n", usage)
	})
}

// parse parses a command's arguments. Flags may come before, between or
// after the positional arguments ("--" ends the flags); the positional
// ones are left in fs.Args(). -h/--help prints the command's help on
// stdout and returns flag.ErrHelp (exit status 0); an unknown flag is
// one error naming the closest known flag.
func (m *Main) parse(fs *flag.FlagSet, args []string) error {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !looksLikeFlag(a) {
			pos = append(pos, a)
			continue
		}
		name, hasValue := strings.TrimLeft(a, "-"), false
		if k := strings.IndexByte(name, '='); k >= 0 {
			name, hasValue = name[:k], true
		}
		if name == "h" || name == "help" {
			fs.SetOutput(m.Stdout)
			fs.Usage()
			return flag.ErrHelp
		}
		f := fs.Lookup(name)
		if f == nil {
			return unknownFlag(fs, name)
		}
		flags = append(flags, a)
		if !hasValue && !isBoolFlag(f) {
			if i+1 >= len(args) {
				return usageError(fs, fmt.Errorf("flag --%s needs a value", name))
			}
			flags = append(flags, args[i+1])
			i++
		}
	}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(append(append(flags, "--"), pos...)); err != nil {
		return usageError(fs, errors.New(strings.Replace(err.Error(), "flag -", "flag --", 1)))
	}
	return nil
}

// usageError is a mistake in how a command was called: exit status 2 and
// a pointer to its help.
func usageError(fs *flag.FlagSet, err error) error {
	return &exitError{code: 2, err: fmt.Errorf("%s: %w ('allsource %s --help' lists its flags)", fs.Name(), err, fs.Name())}
}

func unknownFlag(fs *flag.FlagSet, name string) error {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	msg := fmt.Sprintf("unknown flag --%s", name)
	if near := closestFlag(name, names); near != "" {
		msg += fmt.Sprintf("; did you mean --%s?", near)
	}
	return usageError(fs, errors.New(msg))
}

// closestFlag is the flag a person probably meant by name: one a typo
// away, the address flag for a "port" one (--http-port → --http-addr),
// or else the one sharing the longest start with it (at least a word).
func closestFlag(name string, names []string) string {
	if near := suggest.Closest(name, names); near != "" {
		return near
	}
	for _, suffix := range []string{"-port", "-host", "-address", "-listen"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(names, base+"-addr") {
			return base + "-addr"
		}
	}
	best, bestLen := "", 0
	for _, n := range names {
		l := 0
		for l < len(n) && l < len(name) && n[l] == name[l] {
			l++
		}
		if l > bestLen || (l == bestLen && l > 0 && suggest.Distance(name, n) < suggest.Distance(name, best)) {
			best, bestLen = n, l
		}
	}
	if bestLen < 4 && !(bestLen >= 3 && strings.Contains(name[:bestLen], "-")) {
		return ""
	}
	return best
}

// looksLikeFlag tells a flag from a positional argument: a dash, a name,
// no spaces (a SQL text starting with a "--" comment is positional) and
// not a number.
func looksLikeFlag(a string) bool {
	if len(a) < 2 || a[0] != '-' || strings.ContainsAny(a, " \t\r\n") {
		return false
	}
	if _, err := strconv.ParseFloat(a, 64); err == nil {
		return false
	}
	return true
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// pickCommand returns the subcommand args[0] of group ("admin key"),
// one of subs. help is the group's help, printed for -h/--help/help.
func (m *Main) pickCommand(group, help string, args []string, subs ...string) (string, error) {
	if len(args) == 0 {
		return "", &exitError{code: 2, err: fmt.Errorf("%s needs a command: %s ('allsource %s --help' says more)", group, strings.Join(subs, ", "), group)}
	}
	if isHelpArg(args[0]) {
		fmt.Fprint(m.Stdout, help)
		return "", flag.ErrHelp
	}
	if slices.Contains(subs, args[0]) {
		return args[0], nil
	}
	msg := fmt.Sprintf("unknown command %q for 'allsource %s'", args[0], group)
	if near := suggest.Closest(args[0], subs); near != "" {
		msg += fmt.Sprintf(": did you mean %q?", near)
	} else {
		msg += fmt.Sprintf(": the commands are %s", strings.Join(subs, ", "))
	}
	return "", &exitError{code: 2, err: errors.New(msg)}
}

// helpSection returns the lines of a usage text about one command
// ("admin key create") with their continuation lines.
func helpSection(usage, command string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.Split(usage, "\n") {
		switch {
		case strings.Contains(line, "allsource "+command+" ") || strings.HasSuffix(line, "allsource "+command):
			in = true
			b.WriteString(line + "\n")
		case in && strings.HasPrefix(line, "      ") && !strings.Contains(line, "allsource "):
			b.WriteString(line + "\n")
		default:
			in = false
		}
	}
	return "Usage:\n" + b.String()
}

// isHelpArg tells whether a command's first argument asks for its help.
func isHelpArg(a string) bool {
	return a == "-h" || a == "-help" || a == "--help" || a == "help"
}
