using UFork.Metrics;

namespace UFork.Runtime;

/// <summary>
/// Sends the worker's instruments (<see cref="InstrumentRecorder"/>) to the arbiter every
/// <c>UFORK_METRICS_INTERVAL_MS</c>, as a metrics line on the heartbeat fd. Apart from the heartbeats: a
/// metrics line is no proof of health (its timer jumps the pool's queue), so the arbiter does not count it as one.
/// </summary>
internal sealed class MetricsLoop(HeartbeatPipe pipe, int workerId, TimeSpan interval)
{
    public async Task RunAsync()
    {
        using var recorder = new InstrumentRecorder();
        using var timer = new PeriodicTimer(interval);
        var saidTooLarge = false;
        while (await timer.WaitForNextTickAsync())
        {
            var line = recorder.Snapshot().ToLine();
            if (line.Length > MetricsSnapshot.MaxLineBytes)
            {
                if (!saidTooLarge)
                    await Console.Error.WriteLineAsync(
                        $"worker {workerId}: metrics of {line.Length / 1024} KiB are over the {MetricsSnapshot.MaxLineBytes / 1024} KiB a line may carry; not sent");
                saidTooLarge = true;
                continue;
            }
            if (!pipe.TrySend(line))
                return;
        }
    }
}
