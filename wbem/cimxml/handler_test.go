package cimxml

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/wbem"
	"github.com/hypercim/hypercim/wbem/cimxml/xmlcodec"
)

func TestClassOperations(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	r := s.intrinsic(t, "GetClass", testNS, iparam("ClassName", className("T_Dynamic"))+iparam("LocalOnly", boolValue(false)))
	contains(t, r.body, `<CLASS NAME="T_Dynamic" SUPERCLASS="T_Base">`, `<PROPERTY NAME="Id" TYPE="string"`,
		`<METHOD NAME="Resize" TYPE="uint32">`, `<PARAMETER.REFERENCE NAME="Target" REFERENCECLASS="T_Base">`,
		`<PARAMETER.ARRAY NAME="Codes" TYPE="uint16">`, `<QUALIFIER NAME="Key" TYPE="boolean"`)
	if r.header.Get("Content-Length") == "" {
		t.Error("a small response has no Content-Length")
	}
	if got := r.header.Get("CIMOperation"); got != "MethodResponse" {
		t.Errorf("CIMOperation = %q", got)
	}

	r = s.intrinsic(t, "EnumerateClassNames", testNS, iparam("DeepInheritance", boolValue(true)))
	for _, c := range []string{"T_Base", "T_Static", "T_Sub", "T_Dynamic", "T_Gen", "T_Link", "T_DynLink"} {
		contains(t, r.body, `<CLASSNAME NAME="`+c+`"/>`)
	}
	r = s.intrinsic(t, "EnumerateClasses", testNS, iparam("ClassName", className("T_Static"))+iparam("DeepInheritance", boolValue(true)))
	if n := count(r.body, "CLASS"); n != 1 {
		t.Errorf("subclasses of T_Static: %d, want 1 (T_Sub)\n%s", n, r.body)
	}

	newClass := `<CLASS NAME="T_New" SUPERCLASS="T_Base"><PROPERTY NAME="Extra" TYPE="sint64"><VALUE>-5</VALUE></PROPERTY><METHOD NAME="M" TYPE="uint32"><PARAMETER NAME="P" TYPE="string"></PARAMETER></METHOD></CLASS>`
	s.intrinsic(t, "CreateClass", testNS, iparam("NewClass", newClass))
	r = s.intrinsic(t, "GetClass", testNS, iparam("ClassName", className("T_New"))+iparam("LocalOnly", boolValue(true)))
	contains(t, r.body, `<PROPERTY NAME="Extra" TYPE="sint64"><VALUE>-5</VALUE></PROPERTY>`, `<PARAMETER NAME="P" TYPE="string"></PARAMETER>`)
	r = s.intrinsic(t, "CreateClass", testNS, iparam("NewClass", newClass))
	if got := errorCode(t, r.body); got != cim.ErrAlreadyExists {
		t.Errorf("second CreateClass: %v\n%s", got, r.body)
	}
	modified := strings.Replace(newClass, `<VALUE>-5</VALUE>`, `<VALUE>6</VALUE>`, 1)
	s.intrinsic(t, "ModifyClass", testNS, iparam("ModifiedClass", modified))
	r = s.intrinsic(t, "GetClass", testNS, iparam("ClassName", className("T_New")))
	contains(t, r.body, `<VALUE>6</VALUE>`)
	s.intrinsic(t, "DeleteClass", testNS, iparam("ClassName", className("T_New")))
	r = s.intrinsic(t, "GetClass", testNS, iparam("ClassName", className("T_New")))
	if got := errorCode(t, r.body); got != cim.ErrNotFound {
		t.Errorf("GetClass after DeleteClass: %v", got)
	}
	contains(t, r.body, `DESCRIPTION="CIM_ERR_NOT_FOUND: `)
}

func TestInstanceOperations(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	// wbemcli sends InstanceName after the flags, KEYVALUE without TYPE.
	r := s.intrinsic(t, "GetInstance", testNS,
		iparam("LocalOnly", boolValue(false))+iparam("IncludeClassOrigin", boolValue(true))+
			iparam("InstanceName", instanceName("T_Static", "Id", "s1")))
	contains(t, r.body, `<INSTANCE CLASSNAME="T_Static">`, `<PROPERTY NAME="Name" TYPE="string" CLASSORIGIN="T_Base"><VALUE>one &amp; &lt;only&gt;</VALUE></PROPERTY>`)

	r = s.intrinsic(t, "EnumerateInstances", testNS, iparam("ClassName", className("T_Base"))+iparam("LocalOnly", boolValue(false)))
	if n := count(r.body, "VALUE.NAMEDINSTANCE"); n != 5 {
		t.Errorf("EnumerateInstances T_Base: %d instances, want 5 (3 static, 2 dynamic)\n%s", n, r.body)
	}
	r = s.intrinsic(t, "EnumerateInstances", testNS, iparam("ClassName", className("T_Static"))+iparam("LocalOnly", boolValue(false))+
		iparam("PropertyList", `<VALUE.ARRAY><VALUE>Name</VALUE></VALUE.ARRAY>`))
	if strings.Contains(string(r.body), `NAME="Count"`) || !strings.Contains(string(r.body), `NAME="Name"`) {
		t.Errorf("PropertyList not honoured:\n%s", r.body)
	}
	r = s.intrinsic(t, "EnumerateInstanceNames", testNS, iparam("ClassName", className("T_Dynamic")))
	contains(t, r.body, `<INSTANCENAME CLASSNAME="T_Dynamic"><KEYBINDING NAME="Id"><KEYVALUE VALUETYPE="string" TYPE="string">d1</KEYVALUE></KEYBINDING></INSTANCENAME>`)

	newInst := `<INSTANCE CLASSNAME="T_Dynamic"><PROPERTY NAME="Id" TYPE="string"><VALUE>d3</VALUE></PROPERTY><PROPERTY NAME="Size" TYPE="uint32"><VALUE>99</VALUE></PROPERTY><PROPERTY NAME="Born" TYPE="datetime"><VALUE>20240101120000.000000+000</VALUE></PROPERTY></INSTANCE>`
	r = s.intrinsic(t, "CreateInstance", testNS, iparam("NewInstance", newInst))
	contains(t, r.body, `<IRETURNVALUE><INSTANCENAME CLASSNAME="T_Dynamic"><KEYBINDING NAME="Id"><KEYVALUE VALUETYPE="string" TYPE="string">d3</KEYVALUE>`)
	r = s.intrinsic(t, "CreateInstance", testNS, iparam("NewInstance", newInst))
	if got := errorCode(t, r.body); got != cim.ErrAlreadyExists {
		t.Errorf("duplicate CreateInstance: %v", got)
	}
	// ModifyInstance as wbemcli sends it: all properties, no PropertyList.
	mod := `<VALUE.NAMEDINSTANCE>` + instanceName("T_Dynamic", "Id", "d3") + `<INSTANCE CLASSNAME="T_Dynamic"><PROPERTY NAME="Id" TYPE="string"><VALUE>d3</VALUE></PROPERTY><PROPERTY NAME="Size" TYPE="uint32"><VALUE>100</VALUE></PROPERTY><PROPERTY NAME="Flag" TYPE="boolean"><VALUE>true</VALUE></PROPERTY></INSTANCE></VALUE.NAMEDINSTANCE>`
	s.intrinsic(t, "ModifyInstance", testNS, iparam("ModifiedInstance", mod))
	r = s.intrinsic(t, "GetProperty", testNS, iparam("PropertyName", "<VALUE>Size</VALUE>")+iparam("InstanceName", instanceName("T_Dynamic", "Id", "d3")))
	contains(t, r.body, `<IRETURNVALUE><VALUE>100</VALUE></IRETURNVALUE>`)
	// SetProperty's NewValue is untyped: typed from the class.
	s.intrinsic(t, "SetProperty", testNS, iparam("PropertyName", "<VALUE>Size</VALUE>")+iparam("NewValue", "<VALUE>7</VALUE>")+iparam("InstanceName", instanceName("T_Dynamic", "Id", "d3")))
	r = s.intrinsic(t, "GetProperty", testNS, iparam("PropertyName", "<VALUE>Size</VALUE>")+iparam("InstanceName", instanceName("T_Dynamic", "Id", "d3")))
	contains(t, r.body, `<IRETURNVALUE><VALUE>7</VALUE></IRETURNVALUE>`)
	r = s.intrinsic(t, "GetProperty", testNS, iparam("PropertyName", "<VALUE>Partner</VALUE>")+iparam("InstanceName", instanceName("T_Dynamic", "Id", "d3")))
	contains(t, r.body, `<IRETURNVALUE></IRETURNVALUE>`)
	s.intrinsic(t, "DeleteInstance", testNS, iparam("InstanceName", instanceName("T_Dynamic", "Id", "d3")))
	r = s.intrinsic(t, "GetInstance", testNS, iparam("InstanceName", instanceName("T_Dynamic", "Id", "d3")))
	if got := errorCode(t, r.body); got != cim.ErrNotFound {
		t.Errorf("GetInstance after delete: %v", got)
	}

	// Errors are HTTP 200 with ERROR, named as DSP0200 names them.
	for _, tc := range []struct {
		what, method, ns, params string
		want                     cim.Status
	}{
		{"unknown class", "EnumerateInstances", testNS, iparam("ClassName", className("T_Nope")), cim.ErrInvalidClass},
		{"unknown namespace", "EnumerateInstances", "root/nope", iparam("ClassName", className("T_Base")), cim.ErrInvalidNamespace},
		{"unknown parameter", "GetClass", testNS, iparam("ClassName", className("T_Base")) + iparam("Bogus", boolValue(true)), cim.ErrInvalidParameter},
		{"missing parameter", "GetInstance", testNS, "", cim.ErrInvalidParameter},
		{"bad boolean", "GetClass", testNS, iparam("ClassName", className("T_Base")) + iparam("LocalOnly", "<VALUE>maybe</VALUE>"), cim.ErrInvalidParameter},
		{"wrong key", "GetInstance", testNS, iparam("InstanceName", instanceName("T_Static", "Nope", "s1")), cim.ErrInvalidParameter},
		{"unsupported method", "FrobnicateInstances", testNS, "", cim.ErrNotSupported},
		{"bad uint32 property", "CreateInstance", testNS, iparam("NewInstance", `<INSTANCE CLASSNAME="T_Dynamic"><PROPERTY NAME="Id" TYPE="string"><VALUE>x</VALUE></PROPERTY><PROPERTY NAME="Size" TYPE="uint32"><VALUE>-1</VALUE></PROPERTY></INSTANCE>`), cim.ErrInvalidParameter},
	} {
		r := s.intrinsic(t, tc.method, tc.ns, tc.params)
		if got := errorCode(t, r.body); got != tc.want {
			t.Errorf("%s: error %v, want %v\n%s", tc.what, got, tc.want, r.body)
		}
		contains(t, r.body, `DESCRIPTION="`+tc.want.Name()+`: `)
	}
}

func TestAssociationOperations(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	s1 := iparam("ObjectName", instanceName("T_Static", "Id", "s1"))
	r := s.intrinsic(t, "AssociatorNames", testNS, s1)
	contains(t, r.body, `<OBJECTPATH><INSTANCEPATH><NAMESPACEPATH><HOST>`, `<INSTANCENAME CLASSNAME="T_Sub">`)
	r = s.intrinsic(t, "Associators", testNS, s1+iparam("AssocClass", className("T_Link"))+iparam("ResultRole", "<VALUE>Right</VALUE>"))
	contains(t, r.body, `<VALUE.OBJECTWITHPATH><INSTANCEPATH>`, `<INSTANCE CLASSNAME="T_Sub">`)
	r = s.intrinsic(t, "ReferenceNames", testNS, s1+iparam("Role", "<VALUE>Left</VALUE>"))
	contains(t, r.body, `<INSTANCENAME CLASSNAME="T_Link">`)
	r = s.intrinsic(t, "References", testNS, s1+iparam("ResultClass", className("T_Link")))
	contains(t, r.body, `<INSTANCE CLASSNAME="T_Link">`, `<PROPERTY.REFERENCE NAME="Left" REFERENCECLASS="T_Base"><VALUE.REFERENCE>`)
	// Class-level traversal.
	r = s.intrinsic(t, "AssociatorNames", testNS, iparam("ObjectName", className("T_Static")))
	contains(t, r.body, `<OBJECTPATH><CLASSPATH>`)
	r = s.intrinsic(t, "References", testNS, iparam("ObjectName", className("T_Static")))
	contains(t, r.body, `<VALUE.OBJECTWITHPATH><CLASSPATH>`, `<CLASS NAME="T_Link">`)
}

func TestQualifierOperations(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	r := s.intrinsic(t, "GetQualifier", testNS, iparam("QualifierName", "<VALUE>Key</VALUE>"))
	contains(t, r.body, `<QUALIFIER.DECLARATION NAME="Key" TYPE="boolean" ISARRAY="false" OVERRIDABLE="false"><SCOPE REFERENCE="true" PROPERTY="true"/><VALUE>FALSE</VALUE></QUALIFIER.DECLARATION>`)
	r = s.intrinsic(t, "EnumerateQualifiers", testNS, "")
	if n := count(r.body, "QUALIFIER.DECLARATION"); n < 50 {
		t.Errorf("EnumerateQualifiers: %d declarations", n)
	}
	decl := `<QUALIFIER.DECLARATION NAME="T_Q" TYPE="string" ISARRAY="true" TOSUBCLASS="false"><SCOPE CLASS="true" PROPERTY="true"/><VALUE.ARRAY><VALUE>a</VALUE></VALUE.ARRAY></QUALIFIER.DECLARATION>`
	s.intrinsic(t, "SetQualifier", testNS, iparam("QualifierDeclaration", decl))
	r = s.intrinsic(t, "GetQualifier", testNS, iparam("QualifierName", "<VALUE>T_Q</VALUE>"))
	contains(t, r.body, `TOSUBCLASS="false"`, `<VALUE.ARRAY><VALUE>a</VALUE></VALUE.ARRAY>`)
	s.intrinsic(t, "DeleteQualifier", testNS, iparam("QualifierName", "<VALUE>T_Q</VALUE>"))
	r = s.intrinsic(t, "GetQualifier", testNS, iparam("QualifierName", "<VALUE>T_Q</VALUE>"))
	if got := errorCode(t, r.body); got != cim.ErrNotFound {
		t.Errorf("GetQualifier after delete: %v", got)
	}
}

func TestExecQuery(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	r := s.intrinsic(t, "ExecQuery", testNS, iparam("QueryLanguage", "<VALUE>WQL</VALUE>")+iparam("Query", `<VALUE>SELECT * FROM T_Static WHERE Count = 2</VALUE>`))
	if n := count(r.body, "VALUE.OBJECTWITHPATH"); n != 1 {
		t.Errorf("WQL: %d results\n%s", n, r.body)
	}
	contains(t, r.body, `<KEYVALUE VALUETYPE="string" TYPE="string">s2</KEYVALUE>`)
	r = s.intrinsic(t, "ExecQuery", testNS, iparam("QueryLanguage", "<VALUE>WQL</VALUE>")+iparam("Query", `<VALUE>SELECT Name FROM T_Static</VALUE>`))
	if n := count(r.body, "VALUE.OBJECTWITHPATH") + count(r.body, "VALUE.OBJECT"); n != 3 {
		t.Errorf("WQL projection: %d results\n%s", n, r.body)
	}
	r = s.intrinsic(t, "ExecQuery", testNS, iparam("QueryLanguage", "<VALUE>XPath</VALUE>")+iparam("Query", `<VALUE>//x</VALUE>`))
	if got := errorCode(t, r.body); got != cim.ErrQueryLanguageNotSupported {
		t.Errorf("XPath: %v", got)
	}
}

func TestInvokeMethod(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	d1 := `<LOCALINSTANCEPATH>` + testNSPath + instanceName("T_Dynamic", "Id", "d1") + `</LOCALINSTANCEPATH>`
	obj := `root%2Ftest%3AT_Dynamic.Id="d1"`
	// Untyped parameters, as wbemcli sends them, typed from GetClass.
	r := s.extrinsic(t, "Resize", obj, d1, `<PARAMVALUE NAME="NewSize"><VALUE>25</VALUE></PARAMVALUE><PARAMVALUE NAME="Note"><VALUE>n</VALUE></PARAMVALUE>`)
	contains(t, r.body, `<METHODRESPONSE NAME="Resize"><RETURNVALUE PARAMTYPE="uint32"><VALUE>0</VALUE></RETURNVALUE>`,
		`<PARAMVALUE NAME="OldSize" PARAMTYPE="uint32"><VALUE>10</VALUE></PARAMVALUE>`, `<PARAMVALUE NAME="Note" PARAMTYPE="string"><VALUE>n!</VALUE></PARAMVALUE>`)
	// Static method on a class path.
	r = s.extrinsic(t, "Hello", `root%2Ftest%3AT_Dynamic`, `<LOCALCLASSPATH>`+testNSPath+className("T_Dynamic")+`</LOCALCLASSPATH>`, `<PARAMVALUE NAME="Who"><VALUE>you &amp; me</VALUE></PARAMVALUE>`)
	contains(t, r.body, `<RETURNVALUE PARAMTYPE="string"><VALUE>hello you &amp; me</VALUE></RETURNVALUE>`)
	// An embedded instance, escaped, and returned as one.
	emb := `&lt;INSTANCE CLASSNAME="T_Static"&gt;&lt;PROPERTY NAME="Id" TYPE="string"&gt;&lt;VALUE&gt;e1&lt;/VALUE&gt;&lt;/PROPERTY&gt;&lt;PROPERTY NAME="Name" TYPE="string"&gt;&lt;VALUE&gt;inner&lt;/VALUE&gt;&lt;/PROPERTY&gt;&lt;/INSTANCE&gt;`
	r = s.extrinsic(t, "Embed", obj, d1, `<PARAMVALUE NAME="Item" PARAMTYPE="string" EmbeddedObject="instance"><VALUE>`+emb+`</VALUE></PARAMVALUE>`)
	contains(t, r.body, `<PARAMVALUE NAME="Copy" PARAMTYPE="string" EmbeddedObject="instance"><VALUE>&lt;INSTANCE CLASSNAME=&quot;T_Static&quot;&gt;`, `copy of inner`)
	// The same without EmbeddedObject attribute: the declaration says so.
	r = s.extrinsic(t, "Embed", obj, d1, `<PARAMVALUE NAME="Item"><VALUE>`+emb+`</VALUE></PARAMVALUE>`)
	contains(t, r.body, `copy of inner`)
	// A reference parameter as wbemcli sends it (INSTANCEPATH with a host)
	// and an untyped array.
	ref := `<VALUE.REFERENCE><INSTANCEPATH><NAMESPACEPATH><HOST>127.0.0.1</HOST>` + testNSPath + `</NAMESPACEPATH>` + instanceName("T_Static", "Id", "s2") + `</INSTANCEPATH></VALUE.REFERENCE>`
	r = s.extrinsic(t, "Point", obj, d1, `<PARAMVALUE NAME="Target">`+ref+`</PARAMVALUE><PARAMVALUE NAME="Codes"><VALUE.ARRAY><VALUE>1</VALUE><VALUE>2</VALUE><VALUE>3</VALUE></VALUE.ARRAY></PARAMVALUE>`)
	contains(t, r.body, `<RETURNVALUE PARAMTYPE="uint32"><VALUE>3</VALUE></RETURNVALUE>`, `<PARAMVALUE NAME="Echo" PARAMTYPE="reference"><VALUE.REFERENCE><INSTANCEPATH>`, `<KEYVALUE VALUETYPE="string" TYPE="string">s2</KEYVALUE>`)
	// A reference array as output parameter: VALUE.REFARRAY, the only
	// DTD-valid form (sblim-wbemcli's cm cannot read it; see docs/cimxml.md).
	r = s.extrinsic(t, "Spawn", obj, d1, `<PARAMVALUE NAME="Ids"><VALUE.ARRAY><VALUE>n1</VALUE><VALUE>n2</VALUE></VALUE.ARRAY></PARAMVALUE>`)
	validateDTD(t, r.body)
	contains(t, r.body, `<PARAMVALUE NAME="Created" PARAMTYPE="reference"><VALUE.REFARRAY><VALUE.REFERENCE><INSTANCEPATH>`,
		`<KEYVALUE VALUETYPE="string" TYPE="string">n1</KEYVALUE>`, `<KEYVALUE VALUETYPE="string" TYPE="string">n2</KEYVALUE></KEYBINDING></INSTANCENAME></INSTANCEPATH></VALUE.REFERENCE></VALUE.REFARRAY></PARAMVALUE>`)
	// Errors.
	for _, tc := range []struct {
		method, params string
		want           cim.Status
	}{
		{"Fail", "", cim.ErrFailed},
		{"Nope", "", cim.ErrMethodNotFound},
		{"Resize", `<PARAMVALUE NAME="NewSize"><VALUE>big</VALUE></PARAMVALUE>`, cim.ErrInvalidParameter},
		{"Resize", `<PARAMVALUE NAME="Bogus"><VALUE>1</VALUE></PARAMVALUE>`, cim.ErrInvalidParameter},
	} {
		r := s.extrinsic(t, tc.method, obj, d1, tc.params)
		if got := errorCode(t, r.body); got != tc.want {
			t.Errorf("%s %s: %v, want %v\n%s", tc.method, tc.params, got, tc.want, r.body)
		}
	}
}

func TestPullOperations(t *testing.T) {
	s := newTestServer(t, serverOptions{gen: 250})
	r := s.intrinsic(t, "OpenEnumerateInstances", testNS, iparam("ClassName", className("T_Gen"))+iparam("MaxObjectCount", "<VALUE>100</VALUE>"))
	if n := count(r.body, "VALUE.INSTANCEWITHPATH"); n != 100 {
		t.Fatalf("Open: %d instances, want 100", n)
	}
	ctx := paramValue(t, r.body, "EnumerationContext")
	if ctx == "" || paramValue(t, r.body, "EndOfSequence") != "FALSE" {
		t.Fatalf("Open: context %q\n%s", ctx, r.body)
	}
	r = s.intrinsic(t, "EnumerationCount", testNS, iparam("EnumerationContext", "<VALUE>"+ctx+"</VALUE>"))
	if errorCode(t, r.body) != 0 {
		t.Fatalf("EnumerationCount: %s", r.body)
	}
	r = s.intrinsic(t, "PullInstancesWithPath", testNS, iparam("EnumerationContext", "<VALUE>"+ctx+"</VALUE>")+iparam("MaxObjectCount", "<VALUE>100</VALUE>"))
	if n := count(r.body, "VALUE.INSTANCEWITHPATH"); n != 100 {
		t.Fatalf("Pull: %d instances", n)
	}
	ctx = paramValue(t, r.body, "EnumerationContext")
	r = s.intrinsic(t, "PullInstancesWithPath", testNS, iparam("EnumerationContext", "<VALUE>"+ctx+"</VALUE>")+iparam("MaxObjectCount", "<VALUE>100</VALUE>"))
	if n := count(r.body, "VALUE.INSTANCEWITHPATH"); n != 50 || paramValue(t, r.body, "EndOfSequence") != "TRUE" {
		t.Fatalf("last Pull: %d instances\n%s", n, r.body)
	}
	// The context is gone once the sequence ended.
	r = s.intrinsic(t, "PullInstancesWithPath", testNS, iparam("EnumerationContext", "<VALUE>"+ctx+"</VALUE>")+iparam("MaxObjectCount", "<VALUE>1</VALUE>"))
	if got := errorCode(t, r.body); got != cim.ErrInvalidEnumerationContext {
		t.Errorf("Pull after the end: %v", got)
	}

	// Paths, with a filter, closed early.
	r = s.intrinsic(t, "OpenEnumerateInstancePaths", testNS, iparam("ClassName", className("T_Gen"))+
		iparam("FilterQueryLanguage", "<VALUE>DMTF:FQL</VALUE>")+iparam("FilterQuery", "<VALUE>Count &lt; 10</VALUE>")+iparam("MaxObjectCount", "<VALUE>4</VALUE>"))
	if n := count(r.body, "INSTANCEPATH"); n != 4 {
		t.Fatalf("OpenEnumerateInstancePaths: %d paths\n%s", n, r.body)
	}
	ctx = paramValue(t, r.body, "EnumerationContext")
	r = s.intrinsic(t, "PullInstancePaths", testNS, iparam("EnumerationContext", "<VALUE>"+ctx+"</VALUE>")+iparam("MaxObjectCount", "<VALUE>100</VALUE>"))
	if n := count(r.body, "INSTANCEPATH"); n != 6 {
		t.Fatalf("PullInstancePaths after a filter: %d paths\n%s", n, r.body)
	}
	r = s.intrinsic(t, "OpenEnumerateInstances", testNS, iparam("ClassName", className("T_Gen"))+iparam("MaxObjectCount", "<VALUE>1</VALUE>"))
	ctx = paramValue(t, r.body, "EnumerationContext")
	s.intrinsic(t, "CloseEnumeration", testNS, iparam("EnumerationContext", "<VALUE>"+ctx+"</VALUE>"))
	r = s.intrinsic(t, "PullInstancesWithPath", testNS, iparam("EnumerationContext", "<VALUE>"+ctx+"</VALUE>")+iparam("MaxObjectCount", "<VALUE>1</VALUE>"))
	if got := errorCode(t, r.body); got != cim.ErrInvalidEnumerationContext {
		t.Errorf("Pull after Close: %v", got)
	}

	// Association and query pulls.
	d1 := iparam("InstanceName", instanceName("T_Dynamic", "Id", "d1"))
	r = s.intrinsic(t, "OpenAssociatorInstances", testNS, d1+iparam("MaxObjectCount", "<VALUE>10</VALUE>"))
	contains(t, r.body, `<INSTANCE CLASSNAME="T_Static">`)
	r = s.intrinsic(t, "OpenAssociatorInstancePaths", testNS, d1+iparam("MaxObjectCount", "<VALUE>10</VALUE>"))
	contains(t, r.body, `<INSTANCEPATH>`)
	r = s.intrinsic(t, "OpenReferenceInstances", testNS, d1+iparam("MaxObjectCount", "<VALUE>10</VALUE>"))
	contains(t, r.body, `<INSTANCE CLASSNAME="T_DynLink">`)
	r = s.intrinsic(t, "OpenReferenceInstancePaths", testNS, d1+iparam("MaxObjectCount", "<VALUE>10</VALUE>"))
	contains(t, r.body, `<INSTANCENAME CLASSNAME="T_DynLink">`)
	r = s.intrinsic(t, "OpenQueryInstances", testNS, iparam("FilterQueryLanguage", "<VALUE>DMTF:CQL</VALUE>")+iparam("FilterQuery", "<VALUE>SELECT * FROM T_Static</VALUE>")+iparam("MaxObjectCount", "<VALUE>1</VALUE>"))
	if n := count(r.body, "INSTANCE"); n != 1 {
		t.Fatalf("OpenQueryInstances: %d\n%s", n, r.body)
	}
	ctx = paramValue(t, r.body, "EnumerationContext")
	r = s.intrinsic(t, "PullInstances", testNS, iparam("EnumerationContext", "<VALUE>"+ctx+"</VALUE>")+iparam("MaxObjectCount", "<VALUE>10</VALUE>"))
	if n := count(r.body, "INSTANCE"); n != 2 {
		t.Fatalf("PullInstances: %d\n%s", n, r.body)
	}
	// LocalOnly is not a parameter of the pull operations.
	r = s.intrinsic(t, "OpenEnumerateInstances", testNS, iparam("ClassName", className("T_Gen"))+iparam("LocalOnly", boolValue(false)))
	if got := errorCode(t, r.body); got != cim.ErrInvalidParameter {
		t.Errorf("Open with LocalOnly: %v", got)
	}
}

// paramValue returns the text of an output PARAMVALUE.
func paramValue(t testing.TB, body []byte, name string) string {
	t.Helper()
	root, err := xmlcodec.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	var found string
	var walk func(n *xmlcodec.Node)
	walk = func(n *xmlcodec.Node) {
		if n.Name == "PARAMVALUE" && mustAttr(n, "NAME") == name && len(n.Children) == 1 {
			found = n.Children[0].Text
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(root)
	return found
}

func TestStreamingAndTrailers(t *testing.T) {
	s := newTestServer(t, serverOptions{gen: 3000, payload: 200})
	params := iparam("ClassName", className("T_Gen"))
	r := s.intrinsic(t, "EnumerateInstances", testNS, params, "TE", "trailers")
	if n := count(r.body, "VALUE.NAMEDINSTANCE"); n != 3000 {
		t.Fatalf("streamed %d instances, want 3000", n)
	}
	if r.header.Get("Content-Length") != "" {
		t.Error("a streamed response has a Content-Length")
	}
	if got := r.trailer.Get("CIMStatusCode"); got != "0" {
		t.Errorf("CIMStatusCode trailer = %q, want 0", got)
	}
	r = s.intrinsic(t, "EnumerateInstances", testNS, params)
	if n := count(r.body, "VALUE.NAMEDINSTANCE"); n != 3000 || len(r.trailer) != 0 {
		t.Errorf("without TE: %d instances, trailers %v", n, r.trailer)
	}
}

// failAfter wraps the core so that EnumerateInstances (which CIM-XML runs
// as EnumerateInstancesUnshaped) fails after n results, as a provider
// losing its backend would: with err, or CIM_ERR_FAILED.
type failAfter struct {
	wbem.Operations
	n   int
	err error
}

func (f failAfter) EnumerateInstancesUnshaped(ctx context.Context, ns, className string, o wbem.InstanceOptions, yield func(wbem.Unshaped) error) error {
	i := 0
	err := f.Operations.EnumerateInstancesUnshaped(ctx, ns, className, o, func(inst wbem.Unshaped) error {
		if i == f.n && f.err != nil {
			return f.err
		}
		if i == f.n {
			return cim.NewError(cim.ErrFailed, "the backend went away")
		}
		i++
		return yield(inst)
	})
	return err
}

func TestErrorMidStream(t *testing.T) {
	s := newTestServer(t, serverOptions{gen: 5000, payload: 200, wrap: func(o wbem.Operations) wbem.Operations { return failAfter{Operations: o, n: 2000} }})
	params := iparam("ClassName", className("T_Gen"))
	// With trailers: the status is in the trailers.
	hdr := map[string]string{"CIMOperation": "MethodCall", "CIMMethod": "EnumerateInstances", "CIMObject": "root/test", "TE": "trailers"}
	r := s.do(t, "POST", hdr, intrinsicBody("EnumerateInstances", testNS, params))
	if r.status != 200 || r.readErr != nil {
		t.Fatalf("status %d, read error %v", r.status, r.readErr)
	}
	if got := r.trailer.Get("CIMStatusCode"); got != "1" {
		t.Errorf("CIMStatusCode trailer = %q, want 1", got)
	}
	// Every instance produced before the failure went out.
	if n := count(r.body, "VALUE.NAMEDINSTANCE"); n != 2000 {
		t.Errorf("%d instances sent before the failure, want 2000", n)
	}
	if got := r.trailer.Get("CIMStatusCodeDescription"); !strings.Contains(got, "CIM_ERR_FAILED") {
		t.Errorf("CIMStatusCodeDescription trailer = %q", got)
	}
	// All three trailers of DSP0200 are declared (net/http lists the
	// declared names in Trailer); CIMError has no value for a CIM error.
	for _, name := range []string{"CIMStatusCode", "CIMStatusCodeDescription", "CIMError"} {
		if _, declared := r.trailer[http.CanonicalHeaderKey(name)]; !declared {
			t.Errorf("trailer %s not declared: %v", name, r.trailer)
		}
	}
	if got := r.trailer.Get("CIMError"); got != "" {
		t.Errorf("CIMError trailer %q for a CIM error", got)
	}
	// Without trailers the connection is cut: no complete response.
	delete(hdr, "TE")
	r = s.do(t, "POST", hdr, intrinsicBody("EnumerateInstances", testNS, params))
	if r.readErr == nil {
		t.Errorf("the response to a failed stream ended cleanly:\n%.300s...", r.body)
	}
	// A protocol fault found after the first chunk: CIM_ERR_FAILED with
	// its CIMError value.
	s3 := newTestServer(t, serverOptions{gen: 5000, payload: 200, wrap: func(o wbem.Operations) wbem.Operations {
		return failAfter{Operations: o, n: 2000, err: notValid("a late structural fault")}
	}})
	hdr["TE"] = "trailers"
	r = s3.do(t, "POST", hdr, intrinsicBody("EnumerateInstances", testNS, params))
	if r.status != 200 || r.readErr != nil || r.trailer.Get("CIMStatusCode") != "1" || r.trailer.Get("CIMError") != cimErrRequestNotValid {
		t.Errorf("late protocol fault: status %d, read error %v, trailers %v", r.status, r.readErr, r.trailer)
	}
	// An error before anything was sent is an ordinary ERROR response.
	s2 := newTestServer(t, serverOptions{gen: 10, wrap: func(o wbem.Operations) wbem.Operations { return failAfter{Operations: o, n: 3} }})
	r = s2.intrinsic(t, "EnumerateInstances", testNS, params, "TE", "trailers")
	if got := errorCode(t, r.body); got != cim.ErrFailed {
		t.Errorf("early failure: %v\n%s", got, r.body)
	}
}

func TestProtocolErrors(t *testing.T) {
	s := newTestServer(t, serverOptions{maxSize: 4096})
	body := intrinsicBody("GetClass", testNS, iparam("ClassName", className("T_Base")))
	ok := map[string]string{"CIMOperation": "MethodCall", "CIMMethod": "GetClass", "CIMObject": "root%2Ftest"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range ok {
			m[a] = b
		}
		m[k] = v
		return m
	}
	for _, tc := range []struct {
		name     string
		method   string
		hdr      map[string]string
		body     string
		status   int
		cimError string
	}{
		{"GET", "GET", ok, "", 405, ""},
		{"PUT", "PUT", ok, body, 405, ""},
		{"no credentials", "POST", with("Authorization", ""), body, 401, ""},
		{"wrong password", "POST", with("Authorization", "Basic dGVzdGVyOndyb25n"), body, 401, ""},
		{"too large", "POST", ok, body + strings.Repeat(" ", 5000), 413, ""},
		{"not well-formed", "POST", ok, body[:len(body)-7], 400, cimErrRequestNotWellFormed},
		{"method mismatch", "POST", with("CIMMethod", "GetInstance"), body, 400, cimErrHeaderMismatch},
		{"namespace mismatch", "POST", with("CIMObject", "root%2Fother"), body, 400, cimErrHeaderMismatch},
		{"bad accept", "POST", with("Accept", "application/json"), body, 406, ""},
		{"protocol version", "POST", with("CIMProtocolVersion", "2.0"), body, 501, cimErrUnsupportedProtocolVersion},
		{"bad IPARAMVALUE element", "POST", ok, intrinsicBody("GetClass", testNS, iparam("ClassName", `<CLASSNAME/>`)), 400, cimErrRequestNotValid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, tc.method, tc.hdr, tc.body)
			if r.status != tc.status || r.header.Get("CIMError") != tc.cimError {
				t.Fatalf("got %d CIMError %q, want %d %q\n%s", r.status, r.header.Get("CIMError"), tc.status, tc.cimError, r.body)
			}
			if tc.status == 401 && r.header.Get("WWW-Authenticate") != `Basic realm="hypercim"` {
				t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
			}
			// The server still answers.
			s.intrinsic(t, "GetClass", testNS, iparam("ClassName", className("T_Base")))
		})
	}
}

// A body sent without Content-Length (chunked) is held to the same limit
// as one that declares its length: accepted up to it, 413 beyond.
func TestBodyLimitWithoutContentLength(t *testing.T) {
	const limit = 4096
	s := newTestServer(t, serverOptions{maxSize: limit})
	body := intrinsicBody("GetClass", testNS, iparam("ClassName", className("T_Base")))
	for _, tc := range []struct {
		size   int
		status int
	}{{limit, 200}, {limit + 1, 413}, {4 * limit, 413}} {
		padded := strings.Replace(body, "<CIM ", "<CIM"+strings.Repeat(" ", tc.size-len(body))+" ", 1)
		// A reader net/http cannot size: the request goes out chunked.
		req, err := http.NewRequest("POST", s.url, io.MultiReader(strings.NewReader(padded)))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(testUser, testPassword)
		for k, v := range map[string]string{"Content-Type": "application/xml", "CIMOperation": "MethodCall", "CIMMethod": "GetClass", "CIMObject": "root/test"} {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || req.ContentLength > 0 || (tc.status == 200 && count(b, "CLASS") != 1) {
			t.Errorf("%d bytes: HTTP %d (Content-Length %d), want %d\n%.300s", tc.size, resp.StatusCode, req.ContentLength, tc.status, b)
		}
	}
}

func TestMPostAndOptions(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	hdr := map[string]string{
		"Man":             cimMapping + "; ns=73",
		"73-CIMOperation": "MethodCall",
		"73-CIMMethod":    "GetClass",
		"73-CIMObject":    "root/test",
		"TE":              "trailers",
	}
	r := s.do(t, "M-POST", hdr, intrinsicBody("GetClass", testNS, iparam("ClassName", className("T_Base"))))
	if r.status != 200 || r.header.Get("73-CIMOperation") != "MethodResponse" || r.header.Values("Ext") == nil {
		t.Fatalf("M-POST: %s", r)
	}
	validateDTD(t, r.body)
	delete(hdr, "Man")
	if r := s.do(t, "M-POST", hdr, ""); r.status != http.StatusNotExtended {
		t.Errorf("M-POST without Man: %d", r.status)
	}
	r = s.do(t, "OPTIONS", nil, "")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Opt"), cimMapping) {
		t.Errorf("OPTIONS: %s", r)
	}
}

func TestRateLimitedLogin(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	body := intrinsicBody("GetClass", testNS, iparam("ClassName", className("T_Base")))
	hdr := map[string]string{"CIMOperation": "MethodCall", "CIMMethod": "GetClass", "CIMObject": "root/test", "Authorization": "Basic dGVzdGVyOndyb25n"}
	var last *reply
	for i := 0; i < 6; i++ {
		last = s.do(t, "POST", hdr, body)
	}
	if last.status != 401 || last.header.Get("Retry-After") == "" {
		t.Errorf("after 6 failures: %d, Retry-After %q", last.status, last.header.Get("Retry-After"))
	}
}

func TestNoAuth(t *testing.T) {
	s := newTestServer(t, serverOptions{noAuth: true})
	r := s.do(t, "POST", map[string]string{"Authorization": "", "CIMOperation": "MethodCall", "CIMMethod": "GetClass", "CIMObject": "root/test"},
		intrinsicBody("GetClass", testNS, iparam("ClassName", className("T_Base"))))
	if r.status != 200 || errorCode(t, r.body) != 0 {
		t.Fatalf("--no-auth: %s", r)
	}
	if _, err := NewHandler(Config{Operations: s.core}); err == nil {
		t.Error("a handler without Authenticator and without NoAuth was accepted")
	}
}

func TestDTD22ClientsGetErrorInstances(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	body := strings.Replace(intrinsicBody("GetClass", testNS, iparam("ClassName", className("T_Nope"))), `DTDVERSION="2.0"`, `DTDVERSION="2.2"`, 1)
	r := s.do(t, "POST", map[string]string{"CIMOperation": "MethodCall", "CIMMethod": "GetClass", "CIMObject": "root/test"}, body)
	validateDTD(t, r.body)
	contains(t, r.body, `<ERROR CODE="6"`, `<INSTANCE CLASSNAME="CIM_Error">`, `<PROPERTY NAME="CIMStatusCode" TYPE="uint32"><VALUE>6</VALUE></PROPERTY>`)
}

// LocalOnly is accepted on GetInstance and EnumerateInstances but not
// honoured (as by OpenPegasus and SFCB): without it, or with TRUE, an
// instance keeps the properties its superclasses declare, and a
// PropertyList naming them selects them.
func TestLocalOnlyIgnoredForInstances(t *testing.T) {
	s := newTestServer(t, serverOptions{})
	name := iparam("InstanceName", instanceName("T_Sub", "Id", "sub1"))
	props := iparam("PropertyList", `<VALUE.ARRAY><VALUE>Id</VALUE><VALUE>Name</VALUE></VALUE.ARRAY>`)
	for _, lo := range []string{"", iparam("LocalOnly", boolValue(true)), iparam("LocalOnly", boolValue(false))} {
		r := s.intrinsic(t, "GetInstance", testNS, name+lo)
		contains(t, r.body, `<PROPERTY NAME="Id" TYPE="string"><VALUE>sub1</VALUE></PROPERTY>`, `<PROPERTY NAME="Name" TYPE="string"><VALUE>sub one</VALUE></PROPERTY>`,
			`<PROPERTY NAME="Level" TYPE="uint16"><VALUE>3</VALUE></PROPERTY>`)
		r = s.intrinsic(t, "GetInstance", testNS, name+lo+props)
		contains(t, r.body, `<INSTANCE CLASSNAME="T_Sub"><PROPERTY NAME="Id" TYPE="string"><VALUE>sub1</VALUE></PROPERTY><PROPERTY NAME="Name" TYPE="string"><VALUE>sub one</VALUE></PROPERTY></INSTANCE>`)
		r = s.intrinsic(t, "EnumerateInstances", testNS, iparam("ClassName", className("T_Sub"))+lo)
		contains(t, r.body, `<PROPERTY NAME="Name" TYPE="string"><VALUE>sub one</VALUE></PROPERTY>`)
	}
	// It is still a parameter: checked as a boolean, given once.
	for _, bad := range []string{iparam("LocalOnly", "<VALUE>maybe</VALUE>"), iparam("LocalOnly", boolValue(true)) + iparam("LocalOnly", boolValue(true))} {
		r := s.intrinsic(t, "GetInstance", testNS, name+bad)
		if got := errorCode(t, r.body); got != cim.ErrInvalidParameter {
			t.Errorf("GetInstance with %s: %v, want CIM_ERR_INVALID_PARAMETER", bad, got)
		}
	}
}

// watchEnumerate wraps the core to report how each EnumerateInstances
// (EnumerateInstancesUnshaped, as CIM-XML runs it) ended: the results it
// yielded and its error.
type watchEnumerate struct {
	wbem.Operations
	ended chan<- enumerateEnd
}

type enumerateEnd struct {
	yielded int
	err     error
}

func (w watchEnumerate) EnumerateInstancesUnshaped(ctx context.Context, ns, className string, o wbem.InstanceOptions, yield func(wbem.Unshaped) error) error {
	n := 0
	err := w.Operations.EnumerateInstancesUnshaped(ctx, ns, className, o, func(inst wbem.Unshaped) error {
		n++
		return yield(inst)
	})
	w.ended <- enumerateEnd{n, err}
	return err
}

// A client that goes away in the middle of a streamed response stops the
// operation: the failed write reaches the core as an error, and no more
// results are produced.
func TestClientGoneMidStream(t *testing.T) {
	const total = 100000
	ended := make(chan enumerateEnd, 1)
	s := newTestServer(t, serverOptions{gen: total, payload: 520, wrap: func(o wbem.Operations) wbem.Operations {
		return watchEnumerate{Operations: o, ended: ended}
	}})
	conn, err := net.Dial("tcp", s.http.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	body := intrinsicBody("EnumerateInstances", testNS, iparam("ClassName", className("T_Gen")))
	fmt.Fprintf(conn, "POST /cimom HTTP/1.1\r\nHost: test\r\nAuthorization: Basic %s\r\nContent-Type: application/xml\r\nCIMOperation: MethodCall\r\nCIMMethod: EnumerateInstances\r\nCIMObject: root%%2Ftest\r\nContent-Length: %d\r\n\r\n%s",
		base64.StdEncoding.EncodeToString([]byte(testUser+":"+testPassword)), len(body), body)
	if _, err := io.CopyN(io.Discard, conn, 1<<20); err != nil {
		t.Fatalf("reading the first megabyte: %v", err)
	}
	conn.Close()
	select {
	case e := <-ended:
		if e.err == nil || e.yielded >= total {
			t.Errorf("the enumeration went on after the client left: %d of %d results, error %v", e.yielded, total, e.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the enumeration did not stop after the client left")
	}
}
