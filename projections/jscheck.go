package projections

import (
	"math/big"
	"reflect"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"

	"github.com/allsource/allsource"
)

// Limits on a code projection's source. goja parses and compiles by
// recursive descent, and a goroutine that outgrows Go's stack limit (1 GB)
// ends the process: no recover catches it. Measured with this goja, the
// parser needs 3 to 5 KB of stack per level of brackets (so about 200,000
// nested brackets end the process; 400,000 did) and 200 to 900 bytes per
// level of operators without brackets (!!x, a = b = c, x => y => z); the
// compiler needs less, but slows quadratically with depth (30,000 levels
// of x+x+… took 4 s), and so does parsing nested arrow functions (40,000
// took 11 s).
//
// The parser goes on after a syntax error, so what it will do with a text
// is known only by parsing it. What is counted before it runs is therefore
// raw text, which bounds the parser whatever the text means: the size, the
// brackets (anywhere, strings and comments included) and the arrows. That
// keeps its stack under about 40 MB. The nesting of the parsed program is
// then measured on its syntax tree before it is compiled.
const (
	jsSourceName  = "projection.js"
	jsMaxSource   = 64 << 10 // bytes
	jsMaxBrackets = 4096     // (, [ and { in the text
	jsMaxArrows   = 1024     // => in the text
	jsMaxDepth    = 1000     // levels of the syntax tree
)

// compileSource checks a projection's source against the limits and
// compiles it. Every path that compiles user code goes through it.
func compileSource(src string) (prog *goja.Program, err error) {
	defer func() {
		if p := recover(); p != nil {
			prog, err = nil, allsource.Errorf(allsource.CodeInvalid, "projection JavaScript: the compiler failed: %v", p)
		}
	}()
	if err := checkSourceText(src); err != nil {
		return nil, err
	}
	// Source maps are off: the parser would otherwise read the file a
	// sourceMappingURL comment names.
	tree, err := goja.Parse(jsSourceName, src, parser.WithDisableSourceMaps)
	if err != nil {
		return nil, allsource.Errorf(allsource.CodeInvalid, "projection JavaScript: %v", err)
	}
	if err := checkTree(tree); err != nil {
		return nil, err
	}
	prog, err = goja.CompileAST(tree, false)
	if err != nil {
		return nil, allsource.Errorf(allsource.CodeInvalid, "projection JavaScript: %v", err)
	}
	return prog, nil
}

// checkSourceText counts what bounds the parser, before it runs.
func checkSourceText(src string) error {
	if len(src) > jsMaxSource {
		return allsource.Errorf(allsource.CodeInvalid, "projection JavaScript is %d bytes, over the limit of %d bytes", len(src), jsMaxSource)
	}
	brackets, arrows := 0, 0
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '(', '[', '{':
			brackets++
		case '>':
			if i > 0 && src[i-1] == '=' {
				arrows++
			}
		}
	}
	if brackets > jsMaxBrackets {
		return allsource.Errorf(allsource.CodeInvalid, "projection JavaScript has %d brackets ((, [ and {, counted anywhere in the text), over the limit of %d", brackets, jsMaxBrackets)
	}
	if arrows > jsMaxArrows {
		return allsource.Errorf(allsource.CodeInvalid, "projection JavaScript has %d arrows (=>, counted anywhere in the text), over the limit of %d", arrows, jsMaxArrows)
	}
	return nil
}

var (
	astPackage = reflect.TypeOf(ast.Program{}).PkgPath()
	bigIntType = reflect.TypeOf((*big.Int)(nil))
)

// checkTree measures the parsed program's nesting, without recursion, and
// refuses BigInt literals (BigInt arithmetic allocates without bound in
// one step: 1n << 10n ** 10n).
func checkTree(tree *ast.Program) error {
	type item struct {
		v     reflect.Value
		depth int
	}
	stack := []item{{reflect.ValueOf(tree), 0}}
	seen := map[uintptr]bool{}
	deepest := 0
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		v := it.v
		switch v.Kind() {
		case reflect.Interface:
			if !v.IsNil() {
				stack = append(stack, item{v.Elem(), it.depth})
			}
		case reflect.Pointer:
			if v.IsNil() {
				continue
			}
			if v.Type() == bigIntType {
				return allsource.Errorf(allsource.CodeInvalid, "projection JavaScript: BigInt is not available in projections")
			}
			if v.Type().Elem().Kind() != reflect.Struct || v.Type().Elem().PkgPath() != astPackage || seen[v.Pointer()] {
				continue
			}
			seen[v.Pointer()] = true
			d := it.depth + 1
			if d > deepest {
				deepest = d
				if deepest > jsMaxDepth {
					return allsource.Errorf(allsource.CodeInvalid, "projection JavaScript nests deeper than %d levels (expressions, statements and functions inside one another)", jsMaxDepth)
				}
			}
			stack = append(stack, item{v.Elem(), d})
		case reflect.Struct:
			if v.Type().PkgPath() != astPackage {
				continue
			}
			for i := 0; i < v.NumField(); i++ {
				// A function's declaration list repeats nodes of its body.
				if v.Type().Field(i).Name != "DeclarationList" {
					stack = append(stack, item{v.Field(i), it.depth})
				}
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				stack = append(stack, item{v.Index(i), it.depth})
			}
		}
	}
	return nil
}
