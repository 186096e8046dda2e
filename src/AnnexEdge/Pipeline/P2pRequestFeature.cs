using AnnexEdge.Forwarding;
using AnnexEdge.Locking;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;

namespace AnnexEdge.Pipeline;

/// <summary>
/// The parsed p2phttp request, its target and what serving it did, for every layer after the P2P layer and for the
/// request log (which is enriched from this feature alone). Set on every P2P request, whatever its target.
/// </summary>
internal sealed class P2pRequestFeature(P2pRequest request, Target target, CatalogSnapshot catalog) : Telemetry.ITransfer
{
    private readonly List<string> _backends = [];
    private ByteCountingStream? _requestCounter;
    private long _bytesOut;

    public P2pRequest Request { get; } = request;

    public Target Target { get; } = target;

    /// <summary>The configuration the target was resolved in: it serves the request to its end, whatever a reload does.</summary>
    public CatalogSnapshot Catalog { get; } = catalog;

    /// <summary>The repository, when the target is one (the YARP path).</summary>
    public Repository? Repository => Target as Repository;

    /// <summary>Counts what a proxied download carried and holds it to the announced length (repositories only).</summary>
    public DataLengthGuardStream? ResponseGuard { get; set; }

    /// <summary>The lock slot a lockcontent holds on its backend, if any (see <c>LockLedger</c>).</summary>
    public LockSlot? LockSlot { get; set; }

    /// <summary>Bytes of the client's request body read so far.</summary>
    public long BytesIn => _requestCounter?.Delivered ?? 0;

    /// <summary>Bytes of the response body sent so far.</summary>
    public long BytesOut => Interlocked.Read(ref _bytesOut) + (ResponseGuard?.Written ?? 0);

    /// <summary>The backends that served the request, by id, in the order they were used (several for a cluster).</summary>
    public IReadOnlyList<string> Backends
    {
        get
        {
            lock (_backends)
            {
                return _backends.ToArray();
            }
        }
    }

    string Telemetry.ITransfer.Kind => Request.Endpoint == P2pEndpoint.Put ? "put" : "get";

    string? Telemetry.ITransfer.Node => null;

    string? Telemetry.ITransfer.Key => Request.Key;

    long Telemetry.ITransfer.Bytes => BytesIn + BytesOut;

    /// <summary>Records that a backend was sent this request (or part of it).</summary>
    public void UsedBackend(string backendId)
    {
        lock (_backends)
        {
            if (!_backends.Contains(backendId))
            {
                _backends.Add(backendId);
            }
        }
    }

    /// <summary>Counts response bytes the edge wrote itself (answers of its own, cluster downloads).</summary>
    public void Sent(long bytes) => Interlocked.Add(ref _bytesOut, bytes);

    internal void CountRequestBody(ByteCountingStream counter) => _requestCounter = counter;
}

/// <summary>The P2P request of an HTTP context, and the answers the edge writes itself (counted for the request log).</summary>
internal static class P2pHttpContextExtensions
{
    public static P2pRequestFeature? GetP2pRequest(this HttpContext context) => context.Features.Get<P2pRequestFeature>();

    /// <summary>Answers 200 with a p2phttp JSON answer (see <see cref="P2pAnswers"/>).</summary>
    public static Task AnswerAsync(this HttpContext context, byte[] json)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json;charset=utf-8";
        return WriteAsync(context, json);
    }

    /// <summary>Refuses the request as <c>git annex p2phttp</c> would.</summary>
    public static Task RejectAsync(this HttpContext context, P2pRejection rejection)
    {
        context.Response.StatusCode = rejection.StatusCode;
        if (rejection.Body.Length == 0)
        {
            return Task.CompletedTask;
        }

        context.Response.ContentType = "text/plain;charset=utf-8";
        return WriteAsync(context, System.Text.Encoding.UTF8.GetBytes(rejection.Body));
    }

    /// <summary>Answers 502: no backend could give an answer the edge may pass on.</summary>
    public static Task FailAsync(this HttpContext context, string message)
    {
        context.Response.StatusCode = StatusCodes.Status502BadGateway;
        context.Response.ContentType = "text/plain;charset=utf-8";
        return WriteAsync(context, System.Text.Encoding.UTF8.GetBytes(message));
    }

    private static async Task WriteAsync(HttpContext context, byte[] body)
    {
        await context.Response.Body.WriteAsync(body, context.RequestAborted);

        // A repository's response body is the guard stream, which counts what goes through it already.
        if (context.GetP2pRequest() is { ResponseGuard: null } feature)
        {
            feature.Sent(body.Length);
        }
    }
}
