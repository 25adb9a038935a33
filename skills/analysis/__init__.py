"""データ分析: questions about a CSV or Excel file sent in chat — automatic profile, tables, charts, forecasts."""
from core.skills import Accepts, Command, Job, Skill
from skills.analysis.handler import EXTENSIONS, VERBS, handle, purge

SKILL = Skill(
    name="analysis", title="データ分析",
    description="送られたCSV・Excelのデータを集計・分析します（自動集計、質問に応じた集計表とグラフ、推移、将来推計、相関、"
                "アンケートの自由記述のテーマ分け）。データはAIに渡さず、庁内で計算します（自由記述の分類だけは、"
                "個人情報を伏せた回答をAIに渡します）。",
    commands=[Command("analyze", "データ分析", "送ったCSV・Excelのデータについて、集計・推移・推計などを答えます。",
                      usage="/analyze [<質問> | 集計 <列> | 推移 | 推計 | 相関 <列> <列> | 分類 [<列>] | シート <名前> | 概要]",
                      aliases=("分析", "データ分析"), scopes=("personal",))],
    handler=handle,
    verbs=VERBS,
    jobs=[Job("analysis-purge", purge, every=3600)],
    accepts=Accepts(EXTENSIONS, "データを集計・分析します（CSV・TSV・Excel）。",
                    keywords=("分析", "集計", "グラフ", "推計", "予測", "推移", "統計", "アンケート", "データ", "自由記述",
                              "テーマ分け", "/analyze")),
    keywords=("集計して", "分析して", "グラフにして", "推計", "前年比", "前年度比", "クロス集計"),
    examples=("区別の件数を集計して", "年度ごとの推移と前年度比を出して", "今後5年の人口を推計して"),
    ready=True,
)
