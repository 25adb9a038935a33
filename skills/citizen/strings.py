"""Texts of the residents' chatbot. Refusals and limits are Japanese (公用文, polite); the lines that go with an answer
exist in the languages the bot answers in (ja, en, zh, zh_hant, ko, vi), so an English question does not get a Japanese
frame around its English answer. `{section}` / `{phone}` name the 窓口."""

LANGUAGES = ("ja", "en", "zh", "zh_hant", "ko", "vi")

GUIDE = ("尼崎市の手続きや暮らしの情報について、市のホームページに掲載している内容からお答えします"
         "（例: 粗大ごみの出し方、住民票の写しの取り方）。氏名・住所・電話番号などの個人情報は入力しないでください。")
STAFF_COMMAND = ("このチャットでは、市職員向けの機能（コマンド）はご利用いただけません。"
                 "市の手続きや暮らしについてのご質問を、文章で入力してください。")
NO_FILES = "このチャットでは、ファイルや画像は受け付けていません。ご質問を文章で入力してください。"
NO_ACTIONS = "この操作は、このチャットではご利用いただけません。ご質問を文章で入力してください。"
TOO_LONG = "ご質問が長すぎます（{limit}文字まで）。要点を短くまとめて、もう一度入力してください。"
RATE_LIMITED = ("短い時間にたくさんのご質問をいただいたため、しばらく受付を停止しています。"
                "{seconds}秒ほどたってから、もう一度お試しください。")
NOT_SERVED = "このチャットは、市のホームページの市民向けチャットでのみご利用いただけます。"
NO_PUBLIC_SETS = ("現在、このチャットでご案内できる情報が登録されていません。"
                  "恐れ入りますが、{section}（電話: {phone}）へお問い合わせください。")
MASKED_NOTICE = ("個人情報と思われる部分（{kinds}）は伏せて取り扱いました。"
                 "このチャットには、氏名・住所・電話番号などの個人情報を入力しないでください。")
REFUSED = ("このご質問にはお答えできません。市の手続きや暮らしについてのご質問を入力してください。"
           "お急ぎの場合は、{section}（電話: {phone}）へお問い合わせください。")
OUT_OF_SCOPE = ("このチャットでは、尼崎市の手続きや暮らしについてのご質問にお答えしています。文書の作成、市職員向けの"
                "業務、一般的な会話などにはお答えできません。市の手続きや暮らしについて、ご質問を入力してください。")
OFFLINE_LEAD = "市のホームページから、ご質問に関係しそうな箇所を示します。詳しくはリンク先のページをご覧ください。"
OFFLINE_JA_ONLY = "(Search results are shown in Japanese only.)"
APPROVED_LEAD = "市の職員が回答した内容です（{date}）。"

# the decline marker the answer prompt asks the model for when the passages do not answer (any language)
DECLINE = "［回答不可］"

# with an answer, by language
AI_NOTE = {
    "ja": "※AIが市のホームページの情報をもとに作成した回答です。正確な内容は出典のページでご確認ください。",
    "en": "* This answer was written by AI from the city's web pages. Please check the source pages for details.",
    "zh": "※本回答由AI根据市政府网站的信息生成。详情请查看出处页面。",
    "zh_hant": "※本回答由AI根據市政府網站的資訊產生。詳情請查看出處頁面。",
    "ko": "※시 홈페이지 정보를 바탕으로 AI가 작성한 답변입니다. 자세한 내용은 출처 페이지에서 확인해 주십시오.",
    "vi": "* Câu trả lời do AI soạn dựa trên trang web của thành phố. Vui lòng xem trang nguồn để biết chi tiết.",
}
SOURCES = {"ja": "出典", "en": "Sources", "zh": "出处", "zh_hant": "出處", "ko": "출처", "vi": "Nguồn"}
CONTACT = {
    "ja": "お問い合わせ: {section}（電話: {phone}）",
    "en": "Contact: {section} (Tel: {phone})",
    "zh": "咨询: {section}（电话: {phone}）",
    "zh_hant": "洽詢: {section}（電話: {phone}）",
    "ko": "문의: {section} (전화: {phone})",
    "vi": "Liên hệ: {section} (Điện thoại: {phone})",
}
NOT_FOUND = {
    "ja": "申し訳ありません。市のホームページの情報からは、このご質問にお答えできませんでした。"
          "{section}（電話: {phone}）へお問い合わせください。",
    "en": "Sorry, we could not find an answer to your question in the city's web pages. "
          "Please contact {section} (Tel: {phone}).",
    "zh": "很抱歉，无法根据市政府网站的信息回答您的问题。请咨询{section}（电话: {phone}）。",
    "zh_hant": "很抱歉，無法根據市政府網站的資訊回答您的問題。請洽詢{section}（電話: {phone}）。",
    "ko": "죄송합니다. 시 홈페이지 정보로는 질문에 답변드릴 수 없었습니다. {section}(전화: {phone})에 문의해 주십시오.",
    "vi": "Xin lỗi, chúng tôi không tìm thấy câu trả lời trong trang web của thành phố. "
          "Vui lòng liên hệ {section} (Điện thoại: {phone}).",
}
HANDED_OFF = {
    "ja": "いただいたご質問は、今後のご案内に役立てるため、担当の職員に確認を依頼しました"
          "（このチャットへの個別の回答はありません）。",
    "en": "We have passed your question to city staff to improve our answers "
          "(you will not receive a personal reply in this chat).",
    "zh": "您的问题已转交市政府工作人员，用于改进今后的回答（本聊天不会单独回复）。",
    "zh_hant": "您的問題已轉交市政府工作人員，用於改進今後的回答（本聊天不會個別回覆）。",
    "ko": "질문은 앞으로의 안내 개선을 위해 담당 직원에게 전달했습니다(이 채팅으로 개별 답변은 드리지 않습니다).",
    "vi": "Câu hỏi của bạn đã được chuyển đến nhân viên thành phố để cải thiện câu trả lời "
          "(bạn sẽ không nhận được phản hồi riêng trong cuộc trò chuyện này).",
}
AI_BUSY = {
    "ja": "AIによる回答を作成できなかったため、市のホームページから関係しそうな箇所を示します。",
    "en": "The AI answer could not be made; here are the parts of the city's web pages (in Japanese) that may help.",
    "zh": "无法生成AI回答，以下是市政府网站中可能相关的部分（日语）。",
    "zh_hant": "無法產生AI回答，以下是市政府網站中可能相關的部分（日語）。",
    "ko": "AI 답변을 작성하지 못했습니다. 관련이 있을 수 있는 시 홈페이지 내용(일본어)을 보여 드립니다.",
    "vi": "Không thể tạo câu trả lời bằng AI; dưới đây là các phần liên quan trên trang web của thành phố (tiếng Nhật).",
}
# the first message of a conversation (the page's webchat/join event), in the language of the resident's browser
WELCOME = {
    "ja": "こんにちは。尼崎市のAIチャットです。市の手続きや暮らしについて、市のホームページに掲載している情報から"
          "お答えします。\n\n質問の例: 「粗大ごみはどうやって申し込みますか」「住民票の写しはどこで取れますか」\n\n"
          "回答はAIが作成するため、誤りを含むことがあります。氏名・住所・電話番号などの個人情報は入力しないでください。",
    "en": "Hello. This is Amagasaki City's AI chat. Ask about city procedures and daily life; answers come from the "
          "city's web pages, in English.\n\nExample: \"How do I dispose of large items?\"\n\n"
          "Answers are written by AI and may contain errors. Please do not enter your name, address or phone number.",
    "zh": "您好。这里是尼崎市的AI聊天。我们根据市政府网站的信息，用中文回答有关市政手续和生活的问题。\n\n"
          "例如：「大件垃圾怎么申请？」\n\n回答由AI生成，可能有误。请不要输入姓名、地址、电话号码等个人信息。",
    "zh_hant": "您好。這裡是尼崎市的AI聊天。我們根據市政府網站的資訊，用中文回答有關市政手續和生活的問題。\n\n"
               "例如：「大型垃圾要怎麼申請？」\n\n回答由AI產生，可能有誤。請不要輸入姓名、地址、電話號碼等個人資料。",
    "ko": "안녕하세요. 아마가사키시 AI 채팅입니다. 시의 절차와 생활에 관한 질문에 시 홈페이지 정보를 바탕으로 "
          "한국어로 답변합니다.\n\n예: \"대형 쓰레기는 어떻게 신청하나요?\"\n\n"
          "답변은 AI가 작성하므로 틀린 내용이 있을 수 있습니다. 이름, 주소, 전화번호 등 개인정보는 입력하지 마십시오.",
    "vi": "Xin chào. Đây là kênh trò chuyện AI của thành phố Amagasaki. Chúng tôi trả lời bằng tiếng Việt các câu hỏi "
          "về thủ tục và đời sống dựa trên trang web của thành phố.\n\nVí dụ: \"Làm thế nào để bỏ rác cồng kềnh?\"\n\n"
          "Câu trả lời do AI soạn và có thể có sai sót. Vui lòng không nhập họ tên, địa chỉ, số điện thoại.",
}

LANGUAGE_NAMES = {"ja": "日本語", "easy_ja": "やさしい日本語", "en": "English", "zh": "中文（简体）", "zh_hant": "中文（繁體）", "ko": "한국어",
                  "vi": "Tiếng Việt"}
