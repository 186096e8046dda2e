namespace AnnexEdge.Acme.Tests;

public sealed class AcmeOptionsTests
{
    [Fact]
    public void Disabled_section_is_not_checked()
    {
        Assert.Empty(new AcmeOptions { Enabled = false, Domains = [] }.Errors("AnnexEdge:Acme"));
    }

    [Fact]
    public void Terms_of_service_not_accepted_is_one_line_naming_the_setting()
    {
        var errors = new AcmeOptions { Enabled = true, Domains = ["edge.example.org"] }.Errors("AnnexEdge:Acme");

        var error = Assert.Single(errors);
        Assert.StartsWith("AnnexEdge:Acme:AcceptTermsOfService must be true", error);
    }

    [Fact]
    public void Every_bad_setting_is_named()
    {
        var errors = new AcmeOptions
        {
            Enabled = true,
            AcceptTermsOfService = true,
            DirectoryUrl = "http://ca.test/dir",
            Domains = ["*.example.org"],
            Challenges = ["dns-01"],
            RenewBefore = TimeSpan.Zero,
            EabKeyId = "kid",
            Email = "mailto:ops@example.org",
            TrustedRootsFile = "/nonexistent/roots.pem",
        }.Errors("AnnexEdge:Acme");

        foreach (var setting in new[] { "DirectoryUrl", "Domains", "Challenges", "RenewBefore", "EabKeyId", "Email", "TrustedRootsFile" })
        {
            Assert.Contains(errors, e => e.StartsWith("AnnexEdge:Acme:" + setting, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Defaults_are_Lets_Encrypt_production_both_challenges_and_certs_directory()
    {
        var options = new AcmeOptions();

        Assert.Equal("https://acme-v02.api.letsencrypt.org/directory", options.DirectoryUrl);
        Assert.Equal(["http-01", "tls-alpn-01"], options.ChallengeTypes);
        Assert.Equal("certs/", options.StorePath);
        Assert.Null(options.RenewBefore);
    }
}
