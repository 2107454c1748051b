// Builds WS-Management envelopes with @device-management-toolkit/wsman-messages
// (Intel's AMT message builder) for the conformance tests. Reads a JSON list
// of {name, action, base, class, selectors, body} on stdin, where selectors
// is a list of {name, value} and body is
// {kind: "get"|"enumerate"|"pull"|"delete"|"put"|"rsc"|"custom", ...}, and
// prints a JSON object mapping each name to its envelope.
'use strict';
const { WSManMessageCreator } = require('@device-management-toolkit/wsman-messages/WSMan');

// header builds the request's header. The package writes a SelectorSet of
// one {name, value} selector (AMT's classes have one key); for classes with
// more keys (CreationClassName and Name), each further selector is written
// by the package's createSelector and put into the same SelectorSet.
function header(c, m) {
  const sels = m.selectors || [];
  let h = c.createHeader(m.action, m.class, sels.length ? sels[0] : null);
  for (const sel of sels.slice(1)) {
    const one = c.createSelector(sel);
    const inner = one.slice(one.indexOf('>') + 1, one.lastIndexOf('</'));
    h = h.replace('</w:SelectorSet>', inner + '</w:SelectorSet>');
  }
  return h;
}

const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const creators = {};
const out = {};
for (const m of input) {
  const c = creators[m.base] || (creators[m.base] = new WSManMessageCreator(m.base));
  const common = c.createCommonBody;
  let body;
  switch (m.body.kind) {
    case 'get': body = common.Get(); break;
    case 'enumerate': body = common.Enumerate(); break;
    case 'pull': body = common.Pull(m.body.context, m.body.maxElements, m.body.maxCharacters); break;
    case 'delete': body = common.Delete(); break;
    case 'put': body = common.CreateOrPut(m.class, m.body.data); break;
    case 'rsc': body = common.RequestStateChange(m.base + m.class, m.body.state); break;
    case 'custom': body = c.createBody(m.body.method, m.class, m.body.data); break;
    default: throw new Error('unknown body kind ' + m.body.kind);
  }
  out[m.name] = c.createXml(header(c, m), body);
}
process.stdout.write(JSON.stringify(out));
