using System.Net;
using System.Net.Sockets;

namespace AnnexEdge.Connections;

/// <summary>
/// The proxies (<c>Limits:TrustedProxies</c>, addresses and CIDR networks) whose word on a client's address is
/// believed, in <c>X-Forwarded-For</c> or a PROXY protocol header. Nobody else's is.
/// </summary>
internal sealed class TrustedProxies
{
    public TrustedProxies(IEnumerable<string> entries) =>
        Networks = entries.Select(e => TryParse(e, out var network) ? network : throw new FormatException($"not an address or network: {e}")).ToArray();

    public IReadOnlyList<IPNetwork> Networks { get; }

    public bool Contains(IPAddress address)
    {
        address = ClientAddress.Normalize(address);
        foreach (var network in Networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>An address (a network of one) or a network in CIDR notation with no host bits set.</summary>
    public static bool TryParse(string entry, out IPNetwork network)
    {
        if (IPAddress.TryParse(entry, out var address) && !entry.Contains('/', StringComparison.Ordinal))
        {
            address = ClientAddress.Normalize(address);
            network = new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        // Host bits are refused, not masked: 10.0.0.1/8 is more likely a slip for one address than a wish to trust 16M.
        return IPNetwork.TryParse(entry, out network)
            && IPAddress.TryParse(entry.AsSpan(0, entry.IndexOf('/', StringComparison.Ordinal)), out var written)
            && written.Equals(network.BaseAddress);
    }
}
