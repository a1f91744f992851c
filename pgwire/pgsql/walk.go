package pgsql

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

var errNilNode = errorf(CodeInternal, 0, "internal error: malformed parse tree")

var nodeDescriptor = (&pg_query.Node{}).ProtoReflect().Descriptor()

// walkChildren calls fn for every *pg_query.Node directly or indirectly
// held by m's fields (not m itself), stopping the descent below a node when
// fn returns false. It reaches nodes inside plain messages (a TypeCast's
// TypeName, a SelectStmt's WithClause) too.
func walkChildren(m protoreflect.Message, fn func(*pg_query.Node) bool) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walkMessage(l.Get(i).Message(), fn)
			}
			return true
		}
		if fd.IsMap() {
			return true
		}
		walkMessage(v.Message(), fn)
		return true
	})
}

func walkMessage(m protoreflect.Message, fn func(*pg_query.Node) bool) {
	if m.Descriptor() == nodeDescriptor {
		n := m.Interface().(*pg_query.Node)
		if !fn(n) {
			return
		}
	}
	walkChildren(m, fn)
}

// walkNodes calls fn for n and every node below it.
func walkNodes(n *pg_query.Node, fn func(*pg_query.Node) bool) {
	if n == nil {
		return
	}
	walkMessage(n.ProtoReflect(), fn)
}

// replaceChildren replaces every direct or indirect child node of m with
// fn's result. fn is called top-down; it sees a node before its children
// and, returning descend=false, takes charge of them itself.
func replaceChildren(m protoreflect.Message, fn func(*pg_query.Node) (repl *pg_query.Node, descend bool, err error)) error {
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				var nv protoreflect.Message
				em := l.Get(i).Message()
				if !em.IsValid() {
					// A nil list element would crash the deparser.
					err = errNilNode
					return false
				}
				if nv, err = replaceIn(em, fn); err != nil {
					return false
				}
				if nv != nil {
					l.Set(i, protoreflect.ValueOfMessage(nv))
				}
			}
			return true
		}
		var nv protoreflect.Message
		if nv, err = replaceIn(v.Message(), fn); err != nil {
			return false
		}
		if nv != nil {
			m.Set(fd, protoreflect.ValueOfMessage(nv))
		}
		return true
	})
	return err
}

// replaceIn handles one message: a Node goes through fn; other messages are
// descended into. It returns the replacement, or nil for none.
func replaceIn(m protoreflect.Message, fn func(*pg_query.Node) (*pg_query.Node, bool, error)) (protoreflect.Message, error) {
	if m.Descriptor() != nodeDescriptor {
		return nil, replaceChildren(m, fn)
	}
	n := m.Interface().(*pg_query.Node)
	repl, descend, err := fn(n)
	if err != nil {
		return nil, err
	}
	target := n
	if repl != nil {
		target = repl
	}
	if descend {
		if err := replaceChildren(target.ProtoReflect(), fn); err != nil {
			return nil, err
		}
	}
	if repl != nil && repl != n {
		return repl.ProtoReflect(), nil
	}
	return nil, nil
}
