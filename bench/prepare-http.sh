# Sourced by the HTTP benchmarks: wrk installed, the Release ufork built, results folder made.
RESULTS=bench/results
UFORK=src/UFork.Host/bin/Release/net10.0/ufork
mkdir -p "$RESULTS"

if ! command -v wrk >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq wrk >/dev/null
fi
if ! build=$(dotnet build src/UFork.Host/UFork.Host.csproj -c Release -nologo 2>&1); then
  echo "$build" >&2
  exit 1
fi
