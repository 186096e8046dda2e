using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Display;

namespace AnnexEdge.IntegrationTests.Fixtures;

/// <summary>
/// A Serilog sink keeping an edge's log events in memory, so tests assert on event ids and properties instead of
/// scraping text, and wait for an event (logged after an answer, say) with a deadline.
/// </summary>
public sealed class LogEvents : ILogEventSink
{
    private static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(10);
    private static readonly MessageTemplateTextFormatter Text =
        new("[{Timestamp:HH:mm:ss.fff} {Level:u3}] {Message:lj} {Properties:j}{NewLine}{Exception}");

    private readonly List<LogEvent> _events = [];
    private TaskCompletionSource _changed = NewSignal();

    /// <summary>The events so far, in the order they were logged.</summary>
    public IReadOnlyList<LogEvent> All
    {
        get
        {
            lock (_events)
            {
                return _events.ToArray();
            }
        }
    }

    /// <summary>The events rendered as the edge's console renders them, for failure messages.</summary>
    public string Rendered
    {
        get
        {
            using var writer = new StringWriter();
            foreach (var e in All)
            {
                Text.Format(e, writer);
            }

            return writer.ToString();
        }
    }

    public void Emit(LogEvent logEvent)
    {
        TaskCompletionSource changed;
        lock (_events)
        {
            _events.Add(logEvent);
            changed = _changed;
            _changed = NewSignal();
        }

        changed.SetResult();
    }

    /// <summary>Waits for the first event matching (one logged already counts); fails the test at the deadline (default 10 s).</summary>
    public async Task<LogEvent> FirstAsync(Func<LogEvent, bool> match, TimeSpan? deadline = null, string? what = null)
    {
        var limit = deadline ?? DefaultDeadline;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            Task changed;
            lock (_events)
            {
                if (_events.FirstOrDefault(match) is { } found)
                {
                    return found;
                }

                changed = _changed.Task;
            }

            var left = limit - clock.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                Assert.Fail($"the edge logged no event {what ?? "matching"} within {limit.TotalSeconds:0.#} s:\n{Rendered}");
            }

            try
            {
                await changed.WaitAsync(left, TestContext.Current.CancellationToken);
            }
            catch (TimeoutException)
            {
                // Looked at once more above, then failed.
            }
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>Reading an edge's log events: event ids of <c>[LoggerMessage]</c> events, scalar properties, request events.</summary>
public static class LogEventExtensions
{
    /// <summary>The <c>EventId</c> of an event logged through Microsoft.Extensions.Logging (see EdgeEventIds), if any.</summary>
    public static int? EventId(this LogEvent e) =>
        e.Properties.TryGetValue("EventId", out var id) && id is StructureValue s
            && s.Properties.FirstOrDefault(p => p.Name == "Id")?.Value is ScalarValue { Value: int value }
            ? value
            : null;

    /// <summary>A scalar property's value (null when absent or not a scalar).</summary>
    public static object? Scalar(this LogEvent e, string name) =>
        e.Properties.TryGetValue(name, out var value) && value is ScalarValue scalar ? scalar.Value : null;

    /// <summary>A property as text: a scalar's value, anything else as Serilog renders it.</summary>
    public static string? Text(this LogEvent e, string name) =>
        !e.Properties.TryGetValue(name, out var value) ? null
        : value is ScalarValue scalar ? scalar.Value?.ToString()
        : value.ToString();

    /// <summary>A numeric scalar property as a long.</summary>
    public static long Number(this LogEvent e, string name) =>
        Convert.ToInt64(e.Scalar(name) ?? throw new KeyNotFoundException($"no property {name} in: {e.RenderMessage()}"), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Whether this is the one event the edge logs per request (Serilog's request logging).</summary>
    public static bool IsRequest(this LogEvent e) =>
        e.MessageTemplate.Text.StartsWith("{RequestMethod} {RequestPath}", StringComparison.Ordinal);

    /// <summary>A request event of this method whose path ends with the text (and, if given, that status).</summary>
    public static bool IsRequest(this LogEvent e, string method, string pathEnd, int? status = null) =>
        e.IsRequest() && e.Text("RequestMethod") == method && (e.Text("RequestPath")?.EndsWith(pathEnd, StringComparison.Ordinal) ?? false)
        && (status is null || e.Number("StatusCode") == status);
}
