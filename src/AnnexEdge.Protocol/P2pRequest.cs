namespace AnnexEdge.Protocol;

/// <summary>A p2phttp request whose path, parameters and headers are valid.</summary>
public sealed record P2pRequest
{
    /// <summary>The repository (or cluster) UUID the request is addressed to, decoded.</summary>
    public required string Uuid { get; init; }

    /// <summary>Protocol version 0..4, or null for the unversioned <c>GET /git-annex/UUID/key/KEY</c>.</summary>
    public int? Version { get; init; }

    public required P2pEndpoint Endpoint { get; init; }

    public string? Key { get; init; }

    public string? ClientUuid { get; init; }

    public IReadOnlyList<string> Bypass { get; init; } = [];

    public string? AssociatedFile { get; init; }

    public long? Offset { get; init; }

    public long? Timestamp { get; init; }

    public string? LockId { get; init; }

    public bool DataPresent { get; init; }

    /// <summary>X-git-annex-data-length of a put.</summary>
    public long? DataLength { get; init; }

    /// <summary>The version used to shape answers (the unversioned GET behaves as v0).</summary>
    public int EffectiveVersion => Version ?? 0;
}
