using System.Collections.Concurrent;
using System.Net.Sockets;

namespace UFork.Host.Tests.Http;

/// <summary>
/// Clients that each keep one connection busy with requests, as wrk does. A connection the server asked
/// to close (<c>Connection: close</c>) is replaced by a new one; a connection that breaks is recorded as a
/// failure, with the worker it belonged to (null if it broke before its first answer), and replaced too.
/// </summary>
internal sealed class KeepAliveLoad : IDisposable
{
    private readonly ConcurrentDictionary<int, int> _answers = new();
    private readonly ConcurrentQueue<(int? Pid, string Error)> _failures = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _clients;

    private KeepAliveLoad(int port, IEnumerable<(KeepAliveClient Connection, int Pid)> connections) =>
        _clients = Task.WhenAll(connections.Select(c => Task.Run(() => RunClientAsync(port, c.Connection, c.Pid))));

    /// <summary>Starts the load on <paramref name="each"/> connections to each of <paramref name="workers"/>.</summary>
    public static async Task<KeepAliveLoad> StartAsync(int port, IReadOnlyCollection<int> workers, int each, TimeSpan within) =>
        new(port, await ConnectionsToEachAsync(port, workers, each, within));

    public IReadOnlyCollection<(int? Pid, string Error)> Failures => _failures.ToList();

    public int Answers(int pid) => _answers.GetValueOrDefault(pid);

    public async Task StopAsync(TimeSpan within)
    {
        await _stop.CancelAsync();
        await _clients.WaitAsync(within);
    }

    /// <summary>
    /// Opens connections until each worker holds <paramref name="each"/> of them. A worker that wakes first
    /// can drain the whole accept queue, so a burst of connections may all land on one worker.
    /// </summary>
    private static async Task<List<(KeepAliveClient Connection, int Pid)>> ConnectionsToEachAsync(
        int port, IReadOnlyCollection<int> workers, int each, TimeSpan within)
    {
        using var cancel = new CancellationTokenSource(within);
        var kept = new List<(KeepAliveClient Connection, int Pid)>();
        while (workers.Any(w => kept.Count(k => k.Pid == w) < each))
        {
            var connection = await KeepAliveClient.ConnectAsync(port, cancel.Token);
            var pid = HelloWorld.PidIn(await connection.GetAsync("/", cancel.Token));
            if (kept.Count(k => k.Pid == pid) < each && !connection.ServerWillClose)
                kept.Add((connection, pid));
            else
                connection.Dispose();
        }
        return kept;
    }

    private async Task RunClientAsync(int port, KeepAliveClient? first, int? firstPid)
    {
        while (!_stop.IsCancellationRequested)
        {
            int? pid = firstPid;
            try
            {
                using var connection = first ?? await KeepAliveClient.ConnectAsync(port, _stop.Token);
                (first, firstPid) = (null, null);
                do
                {
                    pid = HelloWorld.PidIn(await connection.GetAsync("/", _stop.Token));
                    _answers.AddOrUpdate(pid.Value, 1, (_, n) => n + 1);
                }
                while (!connection.ServerWillClose);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                _failures.Enqueue((pid, e.Message));
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}
