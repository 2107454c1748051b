package wsman

import "testing"

// TestInvokeWithoutSelectors: an instance method of a keyed class called
// without selectors (as Intel AMT tooling calls the methods of its
// singleton services) is wsman:InvalidSelectors with InsufficientSelectors,
// as a Get without selectors is, not a parameter error; a static method
// needs none (TestInvoke).
func TestInvokeWithoutSelectors(t *testing.T) {
	s := newTestServer(t)
	in := `<p:Resize_INPUT xmlns:p="` + uriDynamic + `"><p:NewSize>20</p:NewSize></p:Resize_INPUT>`
	st, root, raw := s.post(t, envelope(uriDynamic+"/Resize", uriDynamic, "", in))
	if code, sub, detail := faultOf(root); st != 400 || code != "s:Sender" || sub != "wsman:InvalidSelectors" || detail != detailInsufficientSelectors {
		t.Fatalf("instance method without selectors: %d %s %s %s\n%.2000s", st, code, sub, detail, raw)
	}
	// Nothing was resized.
	st, root, raw = s.post(t, envelope(actionGet, uriDynamic, selectors("Id", "d1"), ""))
	if st != 200 || path(root, "Body/T_Dynamic/Size").TrimmedText() != "10" {
		t.Fatalf("d1 after the refused call: %d\n%.2000s", st, raw)
	}
}
