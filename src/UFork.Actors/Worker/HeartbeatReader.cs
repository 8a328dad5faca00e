using Akka.Actor;

namespace UFork.Worker;

/// <summary>Turns bytes on a worker's heartbeat pipe into <see cref="Heartbeat"/> messages, one per read.</summary>
internal static class HeartbeatReader
{
    public static async Task PumpAsync(Stream pipe, int pid, IActorRef worker)
    {
        var buffer = new byte[256];
        try
        {
            while (await pipe.ReadAsync(buffer) > 0)
                worker.Tell(new Heartbeat(pid));
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // Closed by the WorkerActor after the process died.
        }
    }
}
