//! Well-known mirror names (`tuna`, …) and what they expand to; any URL is taken as is.

/// The apt mirror for Ubuntu's main archive (amd64, i386) and for ports (arm64 and others).
pub fn apt(mirror: &str) -> (String, String) {
    match mirror {
        "tuna" => (
            "https://mirrors.tuna.tsinghua.edu.cn/ubuntu/".into(),
            "https://mirrors.tuna.tsinghua.edu.cn/ubuntu-ports/".into(),
        ),
        "aliyun" => (
            "https://mirrors.aliyun.com/ubuntu/".into(),
            "https://mirrors.aliyun.com/ubuntu-ports/".into(),
        ),
        "ustc" => (
            "https://mirrors.ustc.edu.cn/ubuntu/".into(),
            "https://mirrors.ustc.edu.cn/ubuntu-ports/".into(),
        ),
        url => {
            let base = url.trim_end_matches('/');
            (format!("{base}/"), format!("{base}-ports/"))
        }
    }
}

/// The PyPI simple index of a mirror.
pub fn pypi(mirror: &str) -> String {
    match mirror {
        "tuna" => "https://pypi.tuna.tsinghua.edu.cn/simple".into(),
        "aliyun" => "https://mirrors.aliyun.com/pypi/simple".into(),
        "ustc" => "https://mirrors.ustc.edu.cn/pypi/simple".into(),
        url => url.trim_end_matches('/').into(),
    }
}

/// The conda-forge channel on a mirror.
pub fn conda(mirror: &str) -> String {
    match mirror {
        "tuna" => "https://mirrors.tuna.tsinghua.edu.cn/anaconda/cloud/conda-forge".into(),
        "ustc" => "https://mirrors.ustc.edu.cn/anaconda/cloud/conda-forge".into(),
        url => url.trim_end_matches('/').into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tuna_expands() {
        let (ubuntu, ports) = super::apt("tuna");
        assert_eq!(ubuntu, "https://mirrors.tuna.tsinghua.edu.cn/ubuntu/");
        assert_eq!(ports, "https://mirrors.tuna.tsinghua.edu.cn/ubuntu-ports/");
        assert_eq!(
            super::pypi("tuna"),
            "https://pypi.tuna.tsinghua.edu.cn/simple"
        );
        assert_eq!(
            super::apt("https://m.example/ubuntu/").1,
            "https://m.example/ubuntu-ports/"
        );
    }
}
