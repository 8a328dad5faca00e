using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using UFork.Tests.Support;

namespace UFork.Host.Tests.Metrics;

/// <summary>
/// A real Prometheus server (Debian's /usr/bin/prometheus), scraping one target every second, with its
/// config and data in a temporary directory; killed and removed on dispose.
/// </summary>
internal sealed class PrometheusServer : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private readonly Process _process;
    private readonly TempDirectory _directory;
    private readonly Uri _api;

    private PrometheusServer(Process process, TempDirectory directory, Uri api)
    {
        _process = process;
        _directory = directory;
        _api = api;
    }

    public static async Task<PrometheusServer> StartAsync(Uri target)
    {
        var directory = new TempDirectory();
        var config = directory.File("prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: ufork
                metrics_path: {target.AbsolutePath}
                static_configs:
                  - targets: ["{target.Authority}"]
            """);
        var port = FreePort();
        var start = new ProcessStartInfo("/usr/bin/prometheus")
        {
            ArgumentList =
            {
                $"--config.file={config}", $"--storage.tsdb.path={directory.File("data")}",
                $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start prometheus");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new PrometheusServer(process, directory, new Uri($"http://127.0.0.1:{port}/api/v1/"));
    }

    /// <summary>The value of an instant query that yields one sample, or NaN while it yields none.</summary>
    public async Task<double> QueryAsync(string query)
    {
        using var answer = JsonDocument.Parse(await Http.GetStringAsync(new Uri(_api, "query?query=" + Uri.EscapeDataString(query))));
        var result = answer.RootElement.GetProperty("data").GetProperty("result");
        return result.GetArrayLength() == 1
            ? double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture)
            : double.NaN;
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
            _process.Kill();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        _process.Dispose();
        _directory.Dispose();
    }
}
