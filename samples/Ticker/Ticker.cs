using UFork.Runtime;

namespace Samples;

/// <summary>A worker that says it is up and ready, then ticks every two seconds until it is told to stop.</summary>
public static class Ticker
{
    public static async Task Run(WorkerContext worker, CancellationToken stopping)
    {
        Console.WriteLine($"worker {worker.WorkerId} up");
        worker.Ready();
        for (var tick = 1; ; tick++)
        {
            await Task.Delay(TimeSpan.FromSeconds(2), stopping);
            Console.WriteLine($"tick {tick}");
        }
    }
}
