using System.Security.Cryptography.X509Certificates;

namespace AnnexEdge.Bench;

internal static class Tls
{
    /// <summary>The chain policy that trusts the certificate in BENCH_CA_FILE alone (the benchmark's self-signed one), or null.</summary>
    public static X509ChainPolicy? BenchPolicy()
    {
        if (Environment.GetEnvironmentVariable("BENCH_CA_FILE") is not { Length: > 0 } caFile)
        {
            return null;
        }

        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust };
        policy.CustomTrustStore.Add(X509CertificateLoader.LoadCertificateFromFile(caFile));
        return policy;
    }
}
