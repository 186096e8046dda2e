using System.Net;
using System.Net.Sockets;
using AnnexEdge.Connections;

namespace AnnexEdge.Locking;

/// <summary>
/// Who holds a lock, for quotas and for the lock token: the authenticated user, or else the client's address. Never
/// the <c>clientuuid</c>, which a client chooses freely (a fresh one per request would escape every quota). An IPv6
/// client is its /64, the smallest network a single site is given; an IPv4-mapped IPv6 address is its IPv4 address.
/// </summary>
internal readonly record struct LockPrincipal
{
    private const string UserPrefix = "user:";
    private const string AddressPrefix = "addr:";

    private LockPrincipal(string id) => Id = id;

    /// <summary>The principal as one string (<c>user:NAME</c> or <c>addr:ADDRESS</c>), as the lock token carries it.</summary>
    public string Id { get; }

    public bool IsUser => Id.StartsWith(UserPrefix, StringComparison.Ordinal);

    public static LockPrincipal User(string name) => new(UserPrefix + name);

    public static LockPrincipal Address(IPAddress? address)
    {
        if (address is null)
        {
            return new(AddressPrefix + "unknown");
        }

        var key = ClientAddress.PartitionKey(address);
        return new(AddressPrefix + key + (key.AddressFamily == AddressFamily.InterNetworkV6 ? "/64" : ""));
    }

    /// <summary>The principal of a request, once access has been decided (which sets the authenticated user).</summary>
    public static LockPrincipal Of(HttpContext context) =>
        context.User.Identity is { IsAuthenticated: true, Name: { } name }
            ? User(name)
            : Address(context.Connection.RemoteIpAddress);

    /// <summary>Reads back an <see cref="Id"/> (from a token this edge signed).</summary>
    public static LockPrincipal? Parse(string id) =>
        id.StartsWith(UserPrefix, StringComparison.Ordinal) || id.StartsWith(AddressPrefix, StringComparison.Ordinal)
            ? new LockPrincipal(id)
            : null;

    public override string ToString() => Id;
}
