using AnnexEdge.Protocol;
using AnnexEdge.Routing;

namespace AnnexEdge.Protocol;

/// <summary>The parsed p2phttp request and the repository it addresses, for everything after the P2P layer.</summary>
public sealed class P2pRequestFeature(P2pRequest request, Repository repository)
{
    public P2pRequest Request { get; } = request;

    public Repository Repository { get; } = repository;

    /// <summary>The backend that served the request (id), once known.</summary>
    public string? BackendId { get; set; }

    /// <summary>Counts what the response body carried and, for downloads, holds it to the announced length.</summary>
    public DataLengthGuardStream? ResponseGuard { get; set; }

    /// <summary>The lock slot a lockcontent holds on its backend, if any (see <c>LockLedger</c>).</summary>
    public Locking.LockSlot? LockSlot { get; set; }

    public long RequestBytes => _requestCounter?.Count ?? 0;

    private ByteCountingStream? _requestCounter;

    internal void CountRequestBody(ByteCountingStream counter) => _requestCounter = counter;
}

public static class P2pHttpContextExtensions
{
    public static P2pRequestFeature? GetP2pRequest(this HttpContext context) => context.Features.Get<P2pRequestFeature>();
}
