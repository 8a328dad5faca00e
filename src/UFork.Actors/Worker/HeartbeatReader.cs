using System.Text;
using Akka.Actor;
using UFork.Runtime;

namespace UFork.Worker;

/// <summary>
/// Turns bytes on a worker's heartbeat pipe into messages: a <see cref="Heartbeat"/> per read, and a
/// <see cref="ReadyReported"/> when the ready message (<see cref="WorkerEnvironment.ReadyMessage"/>) goes by,
/// even split across reads.
/// </summary>
internal static class HeartbeatReader
{
    private static readonly byte[] Ready = Encoding.ASCII.GetBytes(WorkerEnvironment.ReadyMessage);

    public static async Task PumpAsync(Stream pipe, int pid, IActorRef worker)
    {
        // Room for one read and the tail of the previous one, in case the message straddles them.
        var buffer = new byte[256 + Ready.Length];
        var carried = 0;
        var ready = false;
        try
        {
            int read;
            while ((read = await pipe.ReadAsync(buffer.AsMemory(carried, 256))) > 0)
            {
                var seen = carried + read;
                if (!ready && buffer.AsSpan(0, seen).IndexOf(Ready) >= 0)
                {
                    ready = true;
                    worker.Tell(new ReadyReported(pid));
                }
                worker.Tell(new Heartbeat(pid));
                carried = Math.Min(seen, Ready.Length - 1);
                buffer.AsSpan(seen - carried, carried).CopyTo(buffer);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // Closed by the WorkerActor after the process died.
        }
    }
}
