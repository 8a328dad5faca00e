using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using UFork.Host.Tests.Http;
using UFork.Tests.Support;
using Xunit;

namespace UFork.Host.Tests.Metrics;

[Collection(HttpProcesses.Name)]
public sealed class MetricsEndpointTests
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(30);
    private const string RequestCount = "http_server_request_duration_seconds_count";

    [Fact]
    public async Task The_slot_labelled_request_counter_of_a_serving_fleet_sums_to_the_requests_and_promtool_accepts_the_page()
    {
        await using var ufork = ArbiterUnderTest.Start("serve", "-w", "2", "--bind", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--no-access-log");
        var (port, metrics) = await ServingAsync(ufork);

        const int requests = 24;
        await RequestsAsync(port, requests);

        var scrape = await Polled.ValueAsync(() => Scrape.FetchAsync(metrics), s => s.Sum(RequestCount) >= requests, Within);
        Assert.Equal(requests, scrape.Sum(RequestCount));
        Assert.All(scrape.Samples(RequestCount), s => Assert.Contains(s.Labels["slot"], new[] { "0", "1" }));
        Assert.Equal(2, scrape.Samples("ufork_workers").Single(s => s.Labels["state"] == "ready").Value);
        Assert.Equal(["0", "1"], scrape.Samples("ufork_worker_resident_memory_bytes").Select(s => s.Labels["slot"]).Order());
        Assert.All(scrape.Samples("ufork_worker_cpu_seconds_total"), s => Assert.True(s.Value > 0));
        Assert.Equal(0, scrape.Sum("ufork_worker_deaths_total"));

        var (exitCode, output) = await PromtoolAsync(scrape.Text);
        Assert.True(exitCode == 0, $"promtool check metrics exited {exitCode}:\n{output}");
    }

    [Fact]
    public async Task A_real_prometheus_scrapes_the_fleet_up_with_its_requests()
    {
        await using var ufork = ArbiterUnderTest.Start("serve", "-w", "2", "--bind", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--no-access-log");
        var (port, metrics) = await ServingAsync(ufork);
        const int requests = 10;
        await RequestsAsync(port, requests);

        await using var prometheus = await PrometheusServer.StartAsync(new Uri(metrics));
        var up = await Polled.ValueAsync(() => prometheus.QueryAsync("up"), value => value == 1, TimeSpan.FromSeconds(60));
        Assert.Equal(1, up);
        var served = await Polled.ValueAsync(() => prometheus.QueryAsync($"sum({RequestCount})"), value => value >= requests, TimeSpan.FromSeconds(60));
        Assert.Equal(requests, served);
    }

    [Fact]
    public async Task A_metrics_port_in_use_is_one_line_and_exit_2_with_nothing_started()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        await using var ufork = UForkProcess.Start("run", "-w", "1", "--metrics", $"127.0.0.1:{port}", "--", "sleep", "30");

        Assert.Equal(2, await ufork.WaitForExitAsync(Within));
        Assert.Equal([$"ufork: cannot serve metrics on 127.0.0.1:{port}: the address is in use"], ufork.Stderr);
        Assert.DoesNotContain(ufork.Stdout, line => line.Contains("started pid"));
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("127.0.0.1:http")]
    [InlineData("unix:")]
    public async Task A_bad_metrics_address_is_one_line_and_exit_2(string address)
    {
        await using var ufork = UForkProcess.Start("run", "-w", "1", "--metrics", address, "--", "sleep", "30");

        Assert.Equal(2, await ufork.WaitForExitAsync(Within));
        Assert.Single(ufork.Stderr);
        Assert.StartsWith($"ufork: --metrics '{address}': ", ufork.Stderr[0]);
        Assert.DoesNotContain(ufork.Stdout, line => line.Contains("started pid"));
    }

    [Fact]
    public async Task Garbage_on_the_heartbeat_fd_costs_a_worker_its_metrics_and_nothing_else_and_any_program_may_send_them()
    {
        // A shell worker: a metrics line of bad JSON, one past the bound, one that is not an object, then a good
        // one by hand, ready, and beats; the arbiter must keep it, its slot and the endpoint.
        const string worker = """
            fd=$UFORK_HEARTBEAT_FD
            printf 'metrics {"series": [oops\n' >&$fd
            head -c 400000 /dev/zero | tr '\0' x | sed 's/^/metrics /' >&$fd; echo >&$fd
            printf 'metrics 42\n' >&$fd
            printf 'metrics {"series":[{"name":"jobs.done","kind":"counter","unit":"{job}","description":"Jobs done.","tags":{"queue":"a"},"value":5}]}\n' >&$fd
            printf 'ready\n' >&$fd
            echo garbage sent
            while :; do printf . >&$fd; sleep 0.2; done
            """;
        await using var ufork = ArbiterUnderTest.Start("run", "-w", "1", "--metrics", "127.0.0.1:0", "--", "sh", "-c", worker);
        var metrics = await MetricsUrlAsync(ufork);
        await ufork.WaitForLineAsync(new Regex(@"^\[ufork\] w0: pid \d+ is ready \(said it is ready\)$"), Within);
        await ufork.WaitForLineAsync(new Regex(@"garbage sent$"), Within);

        var scrape = await Polled.ValueAsync(() => Scrape.FetchAsync(metrics), s => s.Samples("jobs_done_total").Count > 0, Within);
        var jobs = Assert.Single(scrape.Samples("jobs_done_total"));
        Assert.Equal(5, jobs.Value);
        Assert.Equal("0", jobs.Labels["slot"]);
        Assert.Equal("a", jobs.Labels["queue"]);
        Assert.Equal(1, scrape.Samples("ufork_workers").Single(s => s.Labels["state"] == "ready").Value);
        Assert.Equal(0, scrape.Sum("ufork_worker_deaths_total"));
        Assert.DoesNotContain(ufork.Stdout, line => line.Contains("exited") || line.Contains("killed"));
    }

    [Fact]
    public async Task The_endpoint_answers_only_get_metrics_and_a_stalled_client_holds_up_no_scrape()
    {
        await using var ufork = ArbiterUnderTest.Start("run", "-w", "1", "--metrics", "127.0.0.1:0", "--", "sleep", "60");
        var metrics = new Uri(await MetricsUrlAsync(ufork));
        using var stalled = new TcpClient();
        await stalled.ConnectAsync(metrics.Host, metrics.Port); // sends nothing

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(new Uri(metrics, "/"))).StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await http.PostAsync(metrics, new StringContent(""))).StatusCode);
        var page = await http.GetAsync(metrics);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", page.Content.Headers.ContentType?.ToString());
        Assert.Contains("ufork_workers{", await page.Content.ReadAsStringAsync());
    }

    internal static async Task<string> MetricsUrlAsync(ArbiterUnderTest ufork) =>
        (await ufork.WaitForLineAsync(new Regex(@"metrics (http://127\.0\.0\.1:\d+/metrics)"), ArbiterUnderTest.StartWithin)).Groups[1].Value;

    /// <summary>The HTTP port and the metrics URL, once both workers are ready.</summary>
    internal static async Task<(int Port, string Metrics)> ServingAsync(ArbiterUnderTest ufork)
    {
        var port = await ufork.ListeningPortAsync();
        var metrics = await MetricsUrlAsync(ufork);
        foreach (var slot in new[] { 0, 1 })
            await ufork.WaitForLineAsync(new Regex($@"^\[ufork\] w{slot}: pid \d+ is ready"), Within);
        return (port, metrics);
    }

    internal static async Task RequestsAsync(int port, int count)
    {
        using var cancel = new CancellationTokenSource(Within);
        for (var i = 0; i < count; i++)
            HelloWorld.PidIn(await KeepAliveClient.GetOnceAsync(port, "/", cancel.Token));
    }

    private static async Task<(int ExitCode, string Output)> PromtoolAsync(string page)
    {
        var start = new ProcessStartInfo("promtool", "check metrics")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var promtool = Process.Start(start)!;
        await promtool.StandardInput.WriteAsync(page);
        promtool.StandardInput.Close();
        var output = promtool.StandardOutput.ReadToEndAsync();
        var errors = promtool.StandardError.ReadToEndAsync();
        await promtool.WaitForExitAsync().WaitAsync(Within);
        return (promtool.ExitCode, await output + await errors);
    }
}
