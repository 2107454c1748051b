// Builds WS-Management envelopes with @device-management-toolkit/wsman-messages
// (Intel's AMT message builder) for the conformance tests. Reads a JSON list
// of {name, action, base, class, selector, body} on stdin, where body is
// {kind: "get"|"enumerate"|"pull"|"delete"|"put"|"rsc"|"custom", ...}, and
// prints a JSON object mapping each name to its envelope.
'use strict';
const { WSManMessageCreator } = require('@device-management-toolkit/wsman-messages/WSMan');

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
  const header = c.createHeader(m.action, m.class, m.selector || null);
  out[m.name] = c.createXml(header, body);
}
process.stdout.write(JSON.stringify(out));
