#!/usr/bin/env bash
# Indications: CIM_AlertIndications published in root/virt, matched by a
# CIM_IndicationSubscription created through the Operations API and
# delivered over CIM-XML (ExportIndication) to a local listener, against
# the export client alone sending the same indication (the baseline: the
# ratio is the indication service's overhead); the matching cost a
# publisher pays with ten WHERE filters; and what lifecycle indications
# add to a static CreateInstance with and without a subscriber. The
# published figure to compare with is pywbem's listener receiving 68-425
# indications/s (cimom.md, pywbem issue #3022).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(go test -run '^$' -bench 'ExportClient|IndicationDelivery' -benchtime 3000x -count 3 ./wbem/cimxml/export/ | grep -E '^Benchmark')
echo "$out"
echo "$out" | awk '
	/ExportClient/ { for (i = 1; i <= NF; i++) if ($(i+1) == "indications/s" && $i > base) base = $i }
	/IndicationDelivery/ { for (i = 1; i <= NF; i++) if ($(i+1) == "indications/s" && $i > svc) svc = $i }
	END {
		if (base > 0 && svc > 0) {
			printf "delivered to a local CIM-XML listener (best of 3): %.0f indications/s; export client alone %.0f/s; service/baseline time ratio %.2f\n", svc, base, base / svc
			printf "against the pywbem listener figure of 425 indications/s: %.1fx\n", svc / 425
		}
	}'
echo "--- publishing and lifecycle costs (package wbem)"
go test -run '^$' -bench 'PublishTenFilters|StaticCreate' -benchmem ./wbem/ | grep -E '^Benchmark'
