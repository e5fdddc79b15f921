// korral/controllers/certificates/csr.h: the CSR crypto helpers under their certificates.k8s.io
// names. They live in korral/pki/csr.h (one OpenSSL layer for the whole project); this header
// keeps the names the controllers, the apiserver's validation and the agent's bootstrap use.
#pragma once

#include "korral/pki/csr.h"

namespace korral::certificates {

using pki::CheckCertificateBundle;
using pki::CsrInfo;
using pki::CsrOptions;
using pki::NewCsr;
using pki::NewPrivateKey;
using pki::ParseCsr;
using pki::SignCsr;

}  // namespace korral::certificates
