namespace AnnexEdge.IntegrationTests.Fixtures;

/// <summary>
/// Waits for a condition by polling it until a deadline, instead of sleeping a guessed time before an assertion:
/// as fast as the machine allows when it is idle, still right when it is busy.
/// </summary>
public static class Eventually
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    /// <summary>Polls until the condition holds; fails the test naming <paramref name="what"/> when the deadline passes.</summary>
    /// <param name="detail">Read at the deadline for the failure message (logs, the last answer seen).</param>
    public static async Task Async(Func<Task<bool>> condition, TimeSpan deadline, string what, Func<string>? detail = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > deadline)
            {
                Assert.Fail($"not within {deadline.TotalSeconds:0.#} s: {what}" + (detail is null ? "" : "\n" + detail()));
            }

            await Task.Delay(Interval, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>Polls a synchronous condition (see <see cref="Async(Func{Task{bool}}, TimeSpan, string, Func{string})"/>).</summary>
    public static Task Async(Func<bool> condition, TimeSpan deadline, string what, Func<string>? detail = null) =>
        Async(() => Task.FromResult(condition()), deadline, what, detail);
}
