using Akka.Actor;

namespace UFork.Worker;

/// <summary>
/// Turns bytes on a worker's heartbeat pipe into messages (<see cref="HeartbeatParser"/>): a <see cref="Heartbeat"/>
/// per read that holds one, a <see cref="ReadyReported"/> when the ready message goes by, even split across
/// reads, and the latest <see cref="MetricsReported"/> of a read.
/// </summary>
internal static class HeartbeatReader
{
    public static async Task PumpAsync(Stream pipe, int pid, IActorRef worker)
    {
        var parser = new HeartbeatParser();
        var buffer = new byte[16 * 1024];
        var ready = false;
        try
        {
            int read;
            while ((read = await pipe.ReadAsync(buffer)) > 0)
            {
                var (beat, readyNow) = parser.Read(buffer.AsSpan(0, read));
                if (readyNow && !ready)
                {
                    ready = true;
                    worker.Tell(new ReadyReported(pid));
                }
                if (beat)
                    worker.Tell(new Heartbeat(pid));
                if (parser.Snapshots.Count > 0)
                    worker.Tell(new MetricsReported(pid, parser.Snapshots[^1], DateTimeOffset.UtcNow));
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // Closed by the WorkerActor after the process died.
        }
    }
}
